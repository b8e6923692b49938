//! Roman Urdu (Urdu in Latin letters, as people type it): the verb comes last ("task 2 delete kar do").

use super::Language;

#[rustfmt::skip]
pub(super) const ROMAN_URDU: Language = Language {
    phrases: &[
        ("meri list dikhao", "show my tasks"), ("meri list dikhaen", "show my tasks"), ("mere tasks dikhao", "show my tasks"),
        ("saare tasks dikhao", "show my tasks"), ("list dikhao", "show my tasks"),
        ("kya kya baqi hai", "what's left"), ("kya baqi hai", "what's left"), ("kitne baqi hain", "how many are left"),
        ("aaj kya hai", "what's due today"), ("aaj ke tasks", "what's due today"),
        ("kal ke liye add karo: {t}", "add {} tomorrow"), ("aaj ke liye add karo: {t}", "add {} today"),
        ("naya task: {t}", "add {}"), ("add karo: {t}", "add {}"), ("{t} add karo", "add {}"), ("{t} add kar do", "add {}"),
        ("{t} likh lo", "add {}"), ("{t} yaad dilana", "add {}"),
        ("{} ka naam badal ke {t} kar do", "rename {} to {}"), ("{} ka naam badal kar {t} kar do", "rename {} to {}"),
        ("{} ka naam {t} kar do", "rename {} to {}"), ("{} ka naam {t} rakh do", "rename {} to {}"),
        ("{} ki date hata do", "remove the due date from {}"),
        ("{} ki date {} kar do", "move {} to {}"), ("{} ki tareekh {} kar do", "move {} to {}"),
        ("{} ko {} par kar do", "move {} to {}"),
        ("{} ki priority {} kar do", "set the priority of {} to {}"), ("{} urgent kar do", "make {} urgent"),
        ("{} ko urgent kar do", "make {} urgent"),
        ("isay {} ke liye kar do", "move it to {}"), ("isay {} kar do", "move it to {}"), ("ise {} kar do", "move it to {}"),
        ("{} dobara kholo", "reopen {}"), ("{} wapas kholo", "reopen {}"), ("{} undone kar do", "reopen {}"),
        ("{} mukammal karo", "complete {}"), ("{} mukammal kar do", "complete {}"), ("{} done kar do", "complete {}"),
        ("{} done karo", "complete {}"), ("{} ho gaya", "complete {}"), ("{} khatam ho gaya", "complete {}"),
        ("{} delete kar do", "delete {}"), ("{} delete karo", "delete {}"), ("{} hata do", "delete {}"),
        ("{} mita do", "delete {}"), ("{} khatam kar do", "delete {}"),
        ("wapas karo", "undo"), ("undo karo", "undo"), ("undo kar do", "undo"),
    ],
    words: &[
        ("aur", "and"), ("wala task", ""), ("wali task", ""), ("wala", ""), ("wali", ""), ("wo task", "that task"),
        ("ka", ""), ("ki", ""), ("ke", ""), ("ko", ""), ("isay", "it"), ("ise", "it"), ("isey", "it"), ("usay", "it"),
        ("jumme", "friday"),
        ("kal", "tomorrow"), ("parson", "the day after tomorrow"), ("aaj", "today"), ("agle", "next"),
        ("peer", "monday"), ("somwar", "monday"), ("mangal", "tuesday"), ("budh", "wednesday"),
        ("jumeraat", "thursday"), ("jumerat", "thursday"), ("jumma", "friday"), ("juma", "friday"),
        ("hafta", "saturday"), ("itwaar", "sunday"), ("itwar", "sunday"),
        ("shaam {n} baje", "{n}pm"), ("raat {n} baje", "{n}pm"), ("dopahar {n} baje", "{n}pm"),
        ("subah {n} baje", "{n}am"), ("{n} baje", "at {n}"), ("high", "high"), ("low", "low"),
    ],
    dates: &[
        ("kal", "tomorrow"), ("parson", "the day after tomorrow"), ("aaj", "today"), ("jumma", "friday"),
        ("juma", "friday"), ("jumme", "friday"), ("jumeraat", "thursday"), ("peer", "monday"), ("mangal", "tuesday"), ("budh", "wednesday"),
        ("hafta", "saturday"), ("itwaar", "sunday"), ("jumma ko", "friday"), ("peer ko", "monday"),
        ("shaam {n} baje", "{n}pm"), ("raat {n} baje", "{n}pm"), ("subah {n} baje", "{n}am"), ("{n} baje", "at {n}"),
    ],
    replies: &[
        ("Added task {}: {}", "Task {} add kar diya: {}"), ("Done: {} is complete.", "Ho gaya: {} mukammal hai."),
        ("Deleted {} tasks:", "{} tasks delete kar diye:"), ("Deleted {}.", "{} delete kar diya."),
        ("Renamed task {} to {}.", "Task {} ka naam {} kar diya."), ("You have {} pending tasks:", "Aap ke {} tasks baqi hain:"),
        ("Delete these {} tasks?", "Kya ye {} tasks delete kar doon?"), ("Delete them, yes or no?", "Delete kar doon, haan ya nahin?"),
        ("Okay, I kept them: nothing was deleted.", "Theek hai, kuch delete nahin kiya."),
    ],
};
