#!/usr/bin/env python3
"""Validate the taskchat dialogue corpus (tests/dialogues/*.json).

Standard library only. Usage:

    python3 tests/dialogues/check.py [DIR]

DIR defaults to the directory holding this script. Prints every problem
found, then the number of dialogues per category and per language, and
exits with status 1 if there was any problem or a minimum count is not met.
See README.md in the same directory for the format.
"""

import datetime as dt
import json
import re
import sys
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# category -> minimum number of dialogues in <category>.json
MINIMUMS = {
    "add": 25, "list": 20, "complete": 20, "reopen": 10, "delete": 15,
    "rename": 15, "dates": 25, "priorities": 12, "labels": 12,
    "followup": 30, "correction": 15, "ambiguity": 15, "typos": 20,
    "casual": 20, "multi": 12, "questions": 15, "bulk": 15, "undo": 12,
    "unknown": 8, "es": 18, "ur": 12, "ur-Latn": 12,
}
LANGS = {"en", "es", "ur", "ur-Latn"}
LANG_FILES = {"es", "ur", "ur-Latn"}  # files whose dialogues must all be in that language
MIN_TOTAL = 320
MIN_NON_EN = 40
MIN_ES = 16
MIN_URDU = 24  # ur + ur-Latn together
MAX_TURNS = 4

PRIORITIES = {"none", "low", "medium", "high", "urgent"}
DIALOGUE_KEYS = {"id", "category", "lang", "note", "now", "tz", "tasks", "turns"}
REQUIRED_KEYS = DIALOGUE_KEYS - {"note"}
TASK_KEYS = {"title", "completed", "due", "priority", "labels"}
STATE_KEYS = {"number"} | TASK_KEYS
EXPECT_KEYS = {"state", "reply_has", "reply_lacks", "asks"}
NOW_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$")


class Checker:
    def __init__(self):
        self.problems = []

    def err(self, where, msg):
        self.problems.append(f"{where}: {msg}")

    # ---- field validators -------------------------------------------------

    def check_due(self, where, due, tz):
        if due is None:
            return
        if not isinstance(due, str):
            self.err(where, f"due must be a string or null, got {due!r}")
            return
        if DATE_RE.match(due):
            try:
                dt.date.fromisoformat(due)
            except ValueError:
                self.err(where, f"due {due!r} is not a real date")
            return
        if DATETIME_RE.match(due):
            try:
                local = dt.datetime.strptime(due, "%Y-%m-%d %H:%M")
            except ValueError:
                self.err(where, f"due {due!r} is not a real date-time")
                return
            if tz is not None:
                # a wall time skipped by a DST change does not exist
                aware = local.replace(tzinfo=tz)
                back = aware.astimezone(dt.timezone.utc).astimezone(tz).replace(tzinfo=None)
                if back != local:
                    self.err(where, f"due {due!r} does not exist in {tz.key} (DST gap)")
            return
        self.err(where, f"due {due!r} must be 'YYYY-MM-DD', 'YYYY-MM-DD HH:MM' or null")

    def check_labels(self, where, labels):
        if not isinstance(labels, list):
            self.err(where, f"labels must be a list, got {labels!r}")
            return
        seen = set()
        for lab in labels:
            if not isinstance(lab, str) or not lab.strip():
                self.err(where, f"label {lab!r} must be a non-empty string")
                continue
            if lab != lab.strip() or lab != lab.lower() or lab.startswith("#"):
                self.err(where, f"label {lab!r} must be trimmed, lowercase and without '#'")
            if lab in seen:
                self.err(where, f"label {lab!r} repeated")
            seen.add(lab)

    def check_task_fields(self, where, task, tz, require_title):
        if not isinstance(task, dict):
            self.err(where, "must be an object")
            return
        allowed = STATE_KEYS if not require_title else TASK_KEYS
        for k in task:
            if k not in allowed:
                self.err(where, f"unknown key {k!r}")
        if require_title and "title" not in task:
            self.err(where, "missing 'title'")
        if "title" in task and (not isinstance(task["title"], str) or not task["title"].strip()):
            self.err(where, "title must be a non-empty string")
        if "completed" in task and not isinstance(task["completed"], bool):
            self.err(where, "completed must be true or false")
        if "due" in task:
            self.check_due(where, task["due"], tz)
        if "priority" in task and task["priority"] not in PRIORITIES:
            self.err(where, f"priority {task['priority']!r} not one of {sorted(PRIORITIES)}")
        if "labels" in task:
            self.check_labels(where, task["labels"])

    def check_strings(self, where, key, value):
        if not isinstance(value, list) or not value:
            self.err(where, f"{key} must be a non-empty list of strings")
            return []
        out = []
        for s in value:
            if not isinstance(s, str) or not s.strip():
                self.err(where, f"{key} entry {s!r} must be a non-empty string")
            else:
                out.append(s)
        return out

    # ---- dialogue ----------------------------------------------------------

    def check_dialogue(self, fname, idx, d, ids):
        where = f"{fname}[{idx}]"
        if not isinstance(d, dict):
            self.err(where, "dialogue must be an object")
            return None
        did = d.get("id")
        if isinstance(did, str):
            where = f"{fname}:{did}"
        for k in REQUIRED_KEYS - d.keys():
            self.err(where, f"missing key {k!r}")
        for k in d.keys() - DIALOGUE_KEYS:
            self.err(where, f"unknown key {k!r}")
        category = Path(fname).stem
        if d.get("category") != category:
            self.err(where, f"category {d.get('category')!r} must equal the file name {category!r}")
        if not isinstance(did, str) or not re.fullmatch(re.escape(category) + r"-\d{3}", did):
            self.err(where, f"id {did!r} must be '{category}-NNN'")
        elif did in ids:
            self.err(where, f"duplicate id (also in {ids[did]})")
        else:
            ids[did] = fname
        lang = d.get("lang")
        if lang not in LANGS:
            self.err(where, f"lang {lang!r} not one of {sorted(LANGS)}")
        elif category in LANG_FILES and lang != category:
            self.err(where, f"dialogues in {category}.json must have lang {category!r}")
        if "note" in d and (not isinstance(d["note"], str) or "\n" in d["note"] or not d["note"].strip()):
            self.err(where, "note must be a one-line non-empty string")
        now = d.get("now")
        if not isinstance(now, str) or not NOW_RE.match(now):
            self.err(where, f"now {now!r} must be 'YYYY-MM-DDTHH:MM'")
        else:
            try:
                dt.datetime.strptime(now, "%Y-%m-%dT%H:%M")
            except ValueError:
                self.err(where, f"now {now!r} is not a real date-time")
        tz = None
        tzname = d.get("tz")
        try:
            if not isinstance(tzname, str) or not tzname:
                raise ValueError
            tz = ZoneInfo(tzname)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            self.err(where, f"tz {tzname!r} is not a valid IANA zone")

        tasks = d.get("tasks")
        if not isinstance(tasks, list):
            self.err(where, "tasks must be a list")
            tasks = []
        for i, task in enumerate(tasks, 1):
            self.check_task_fields(f"{where} task {i}", task, tz, require_title=True)

        # numbers that exist now / have ever existed
        current = set(range(1, len(tasks) + 1))
        ever = set(current)
        highest = len(tasks)

        turns = d.get("turns")
        if not isinstance(turns, list) or not turns:
            self.err(where, "turns must be a non-empty list")
            return lang
        if len(turns) > MAX_TURNS:
            self.err(where, f"{len(turns)} turns; keep dialogues to 1-{MAX_TURNS} turns")
        for ti, turn in enumerate(turns, 1):
            tw = f"{where} turn {ti}"
            if not isinstance(turn, dict):
                self.err(tw, "turn must be an object")
                continue
            for k in turn.keys() - {"say", "expect"}:
                self.err(tw, f"unknown key {k!r}")
            say = turn.get("say")
            if not isinstance(say, str) or not say.strip():
                self.err(tw, "say must be a non-empty string")
            exp = turn.get("expect")
            if not isinstance(exp, dict):
                self.err(tw, "expect must be an object")
                continue
            for k in exp.keys() - EXPECT_KEYS:
                self.err(tw, f"unknown expect key {k!r}")
            if not exp.keys() & EXPECT_KEYS:
                self.err(tw, "expect needs at least one of " + ", ".join(sorted(EXPECT_KEYS)))
            if "asks" in exp:
                if exp["asks"] is not True:
                    self.err(tw, "asks must be true when present")
                if "state" in exp:
                    self.err(tw, "asks means nothing changes: drop 'state'")
            has = self.check_strings(tw, "reply_has", exp["reply_has"]) if "reply_has" in exp else []
            lacks = self.check_strings(tw, "reply_lacks", exp["reply_lacks"]) if "reply_lacks" in exp else []
            for lo in lacks:
                for hi in has:
                    if lo.strip().lower() in hi.strip().lower():
                        self.err(tw, f"reply_lacks {lo!r} contradicts reply_has {hi!r}")
            if "state" in exp:
                state = exp["state"]
                if not isinstance(state, list):
                    self.err(tw, "state must be a list")
                    continue
                nums = []
                for si, entry in enumerate(state):
                    ew = f"{tw} state[{si}]"
                    if not isinstance(entry, dict):
                        self.err(ew, "must be an object")
                        continue
                    n = entry.get("number")
                    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
                        self.err(ew, f"number {n!r} must be an integer >= 1")
                        continue
                    self.check_task_fields(ew, entry, tz, require_title=False)
                    nums.append(n)
                if any(b <= a for a, b in zip(nums, nums[1:])):
                    self.err(tw, f"state numbers {nums} must be strictly increasing")
                # new numbers continue after the highest ever assigned; older
                # numbers may only reappear if they existed before (undo)
                fresh = sorted(n for n in nums if n not in ever)
                expected = list(range(highest + 1, highest + 1 + len(fresh)))
                if fresh != expected:
                    self.err(tw, f"new task numbers {fresh} should be {expected} "
                                 f"(highest so far {highest}; numbers are never reused)")
                current = set(nums)
                ever |= current
                highest = max([highest] + nums)
        return lang


def main():
    base = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent
    files = sorted(base.glob("*.json"))
    c = Checker()
    if not files:
        c.err(str(base), "no .json files")
    ids = {}
    per_cat = {}
    per_lang = {}
    for f in files:
        cat = f.stem
        if cat not in MINIMUMS:
            c.err(f.name, f"unknown category {cat!r}; known: {', '.join(MINIMUMS)}")
        try:
            data = json.loads(f.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            c.err(f.name, f"invalid JSON: {e}")
            continue
        if not isinstance(data, list):
            c.err(f.name, "top level must be a JSON array")
            continue
        per_cat[cat] = len(data)
        for i, d in enumerate(data):
            lang = c.check_dialogue(f.name, i, d, ids)
            if lang in LANGS:
                per_lang[lang] = per_lang.get(lang, 0) + 1

    total = sum(per_cat.values())
    print("dialogues per category:")
    for cat in list(MINIMUMS) + sorted(set(per_cat) - set(MINIMUMS)):
        n = per_cat.get(cat, 0)
        m = MINIMUMS.get(cat)
        flag = "" if m is None or n >= m else f"   < minimum {m}"
        print(f"  {cat:<12} {n:>4}{flag}")
        if m is not None and n < m:
            c.err(f"{cat}.json", f"{n} dialogues, minimum is {m}")
    print(f"  {'total':<12} {total:>4}")
    print("dialogues per language:")
    for lang in ["en", "es", "ur", "ur-Latn"]:
        print(f"  {lang:<12} {per_lang.get(lang, 0):>4}")
    non_en = total - per_lang.get("en", 0)
    urdu = per_lang.get("ur", 0) + per_lang.get("ur-Latn", 0)
    print(f"  {'non-English':<12} {non_en:>4}")
    turns = sum(1 for f in files for d in _safe_load(f) if isinstance(d, dict)
                for _ in (d.get("turns") or []))
    print(f"turns: {turns}")
    for label, got, need in [("total dialogues", total, MIN_TOTAL),
                             ("non-English dialogues", non_en, MIN_NON_EN),
                             ("Spanish dialogues", per_lang.get("es", 0), MIN_ES),
                             ("Urdu dialogues (ur + ur-Latn)", urdu, MIN_URDU)]:
        if got < need:
            c.err("corpus", f"{label}: {got}, minimum is {need}")

    if c.problems:
        print(f"\n{len(c.problems)} problem(s):", file=sys.stderr)
        for p in c.problems:
            print("  " + p, file=sys.stderr)
        return 1
    print("OK")
    return 0


def _safe_load(path):
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if isinstance(data, list) else []
    except (json.JSONDecodeError, UnicodeDecodeError):
        return []


if __name__ == "__main__":
    sys.exit(main())
