#![no_main]
// The target's body lives in the library (src/fuzzing.rs), where the test suite replays its corpus too.
libfuzzer_sys::fuzz_target!(|data: &[u8]| taskchat::fuzzing::dates_target(data));
