//! Urdu, in Urdu script.

use super::Language;

#[rustfmt::skip]
pub(super) const URDU: Language = Language {
    phrases: &[
        ("میرے سارے کام دکھائیں", "show my tasks"), ("میرے کام دکھائیں", "show my tasks"), ("سارے کام دکھائیں", "show my tasks"),
        ("میری فہرست دکھائیں", "show my tasks"), ("کون سے کام باقی ہیں", "what's left"), ("کیا باقی ہے", "what's left"),
        ("آج کیا ہے", "what's due today"), ("کتنے کام باقی ہیں", "how many are left"),
        ("کل کے لیے کام شامل کریں: {t}", "add {} tomorrow"), ("آج کے لیے کام شامل کریں: {t}", "add {} today"),
        ("نیا کام شامل کریں: {t}", "add {}"), ("نیا کام: {t}", "add {}"), ("کام شامل کریں: {t}", "add {}"),
        ("{t} شامل کریں", "add {}"), ("{t} شامل کر دیں", "add {}"),
        ("{} کا نام بدل کر {t} کر دیں", "rename {} to {}"), ("{} کا نام {t} کر دیں", "rename {} to {}"),
        ("{} کی تاریخ ہٹا دیں", "remove the due date from {}"),
        ("{} کی تاریخ {} کر دیں", "move {} to {}"), ("{} کی ترجیح {} کر دیں", "set the priority of {} to {}"),
        ("{} کو ارجنٹ کر دیں", "make {} urgent"), ("{} ارجنٹ کر دیں", "make {} urgent"),
        ("اسے {} کے لیے کر دیں", "move it to {}"), ("اسے {} کر دیں", "move it to {}"),
        ("{} دوبارہ کھولیں", "reopen {}"),
        ("{} مکمل کر دیں", "complete {}"), ("{} مکمل کریں", "complete {}"), ("{} ہو گیا", "complete {}"),
        ("{} حذف کر دیں", "delete {}"), ("{} حذف کریں", "delete {}"), ("{} ہٹا دیں", "delete {}"), ("{} مٹا دیں", "delete {}"),
        ("واپس کریں", "undo"),
    ],
    words: &[
        ("کام نمبر", "task"), ("نمبر", "task"), ("کام", "task"), ("اور", "and"), ("والا کام", ""), ("والا", ""),
        ("کل", "tomorrow"), ("پرسوں", "the day after tomorrow"), ("آج", "today"), ("اگلے", "next"),
        ("پیر", "monday"), ("منگل", "tuesday"), ("بدھ", "wednesday"), ("جمعرات", "thursday"), ("جمعہ", "friday"),
        ("ہفتہ", "saturday"), ("اتوار", "sunday"), ("کو", ""), ("اسے", "it"), ("اس کو", "it"),
        ("ہائی", "high"), ("زیادہ", "high"), ("لو", "low"), ("کم", "low"), ("میڈیم", "medium"), ("درمیانی", "medium"),
        ("ارجنٹ", "urgent"), ("فوری", "urgent"),
        ("شام {n} بجے", "{n}pm"), ("رات {n} بجے", "{n}pm"), ("دوپہر {n} بجے", "{n}pm"), ("صبح {n} بجے", "{n}am"),
        ("{n} بجے", "at {n}"),
    ],
    dates: &[
        ("کل", "tomorrow"), ("پرسوں", "the day after tomorrow"), ("آج", "today"), ("جمعرات کو", "thursday"),
        ("جمعہ کو", "friday"), ("پیر کو", "monday"), ("منگل کو", "tuesday"), ("بدھ کو", "wednesday"),
        ("ہفتے کو", "saturday"), ("اتوار کو", "sunday"), ("جمعرات", "thursday"), ("جمعہ", "friday"), ("پیر", "monday"),
        ("شام {n} بجے", "{n}pm"), ("رات {n} بجے", "{n}pm"), ("صبح {n} بجے", "{n}am"), ("{n} بجے", "at {n}"),
    ],
    replies: &[
        ("Added task {}: {}", "کام {} شامل کر دیا: {}"), ("Done: {} is complete.", "ہو گیا: {} مکمل ہے۔"),
        ("Deleted {} tasks:", "{} کام حذف کر دیے:"), ("Deleted {}.", "{} حذف کر دیا۔"),
        ("Renamed task {} to {}.", "کام {} کا نام {} کر دیا۔"), ("You have {} pending tasks:", "آپ کے {} کام باقی ہیں:"),
        ("Delete these {} tasks?", "کیا یہ {} کام حذف کر دوں؟"), ("Delete them, yes or no?", "حذف کر دوں، ہاں یا نہیں؟"),
        ("Okay, I kept them: nothing was deleted.", "ٹھیک ہے، کچھ حذف نہیں کیا۔"),
    ],
};
