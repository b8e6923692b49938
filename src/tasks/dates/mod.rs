//! Due dates from words, in the person's time zone: one parser for every door (REST, the tools, the builtin
//! assistant).
