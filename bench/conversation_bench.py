"""`shiftrec bench conversation`: the chat on the labelled dialogue set and the intent sets.

Every script of bench/data/dialogues.jsonl (written apart from the chat's code and training data;
what it expects is defined in dialogues.md) runs through the real service on a fresh copy of its
demo (MovieLens-100K or the grocery demo), turn by turn. Per turn: the intent read, the slots (F1
over (slot, value) pairs), the state after it (the session's active refinements and the memory's
edits in force, exactly), whether it asked instead of acting, and for memory edits whether they
did what they say (a fade lowers the topic's strength, a forget leaves no trace in the export, a
pin puts the topic in the next list, a refused edit says so and changes nothing). Plus the intent
sets of single messages: the older blind set (its misses were read while the grammar was written)
and a held-out set no rule was written from.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import statistics
import time
import uuid
from collections import Counter, defaultdict
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from agent.chat.intents import INTENTS, training_rows
from agent.service import ShiftRecService
from bench.conversation_edits import EditCheck
from bench.conversation_scoring import (
    actual_state,
    anchor_for,
    expected_pairs,
    expected_state,
    f1_counts,
    predicted_pairs,
)
from memory.service import InterestMemory
from serving.demo import ensure_demo_data
from serving.settings import Settings

DATA = Path(__file__).resolve().parent / "data"
DIALOGUES = DATA / "dialogues.jsonl"
DIALOGUE_SETS = {"dialogues": DIALOGUES, "fresh": DATA / "dialogues_fresh.jsonl"}
INTENT_SETS = {"final": DATA / "intents_final.jsonl", "validation": DATA / "intents_validation.jsonl",
               "fresh": DATA / "intents_fresh.jsonl", "heldout": DATA / "intents_heldout.jsonl",
               "older": DATA / "intents_blind.jsonl"}
BLIND = "final"  # its misses are counted, never written out: the set stays blind for the next change too
INTENT_NOTES = {
    "final": "160 messages by another writer, never read while building: the blind set (0.894 with the "
             "embedding-only classifier; 0.981 with the n-gram classifier, 0.975 once a guessed edit stopped "
             "displacing a request; its misses never written out)",
    "validation": "240 messages by another writer for the n-gram classifier; its misses were read to choose the "
                  "classifier and when it overrules the cue words",
    "fresh": "150 messages by another writer; first measured at 0.88, then its misses were read and general "
             "cue words added",
    "heldout": "140 messages by another writer; its misses were read once while the cue words were written",
    "older": "96 messages from the first release; its misses were read while the cue words were written",
}
DEMOS = {"movies": "ml-100k", "grocery": "grocery"}
TARGETS = {"intent_accuracy": 0.95, "slot_f1": 0.9, "state_accuracy": 0.95, "blind_intent_accuracy": 0.95}
MISSES_KEPT = 60


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def run_conversation_bench(settings: Settings, results_dir: Path, cache_dir: Path) -> dict[str, Any]:
    """Run every script and intent set; writes conversation.json and conversation.md."""
    load_before = os.getloadavg()
    tallies = {name: Tally() for name in DIALOGUE_SETS}
    intents = {name: {"right": 0, "total": 0, "misses": [], "in_training": 0, "right_unseen": 0} for name in INTENT_SETS}
    for domain, demo in DEMOS.items():
        for name, path in DIALOGUE_SETS.items():  # each set on its own fresh copy: scripts edit and forget
            scripts = [script for script in read_jsonl(path) if script["domain"] == domain]
            with ExitStack() as stack:
                service = _fresh_service(stack, settings, demo, cache_dir)
                for script in scripts:
                    run_script(service, script, tallies[name])
                if name == "dialogues":
                    user = sorted({script["user"] for script in scripts})[0]
                    for set_name, intent_path in INTENT_SETS.items():
                        rows = [row for row in read_jsonl(intent_path) if row.get("domain", "movies") == domain]
                        _intent_set(service, rows, user, intents[set_name])
    accuracy = {name: round(found["right"] / found["total"], 4) for name, found in intents.items()}
    blind = intents[BLIND]
    result = tallies["dialogues"].result() | {
        "blind_intent_accuracy": accuracy[BLIND],
        "blind_cases": blind["total"],
        "blind_cases_also_in_training": blind["in_training"],
        "blind_intent_accuracy_unseen_texts": round(blind["right_unseen"] / max(1, blind["total"] - blind["in_training"]), 4),
        "blind_set": "bench/data/intents_final.jsonl: written by another writer apart from the code and the other "
                     "sets, measured once the grammar was final (no rule was written from it)",
        "intent_sets": {name: {"accuracy": accuracy[name], "cases": intents[name]["total"], "note": INTENT_NOTES[name],
                               "misses": [] if name == BLIND else intents[name]["misses"][:MISSES_KEPT]}
                        for name in INTENT_SETS},
        "fresh_dialogues": {key: value for key, value in tallies["fresh"].result().items() if key != "scripts_misses"}
        | {"note": "bench/data/dialogues_fresh.jsonl: the same definition, written by another writer after the "
                   "grammar was built. First run (movies / grocery): intent 0.883 / 0.865, slot F1 0.876 / 0.761, "
                   "state 0.583 / 0.081, edits 0.643 / 0.333; its misses were then read and general fixes made",
           "misses": tallies["fresh"].misses[:MISSES_KEPT]},
        "targets": TARGETS,
        "machine": {"load_before": [round(x, 2) for x in load_before],
                    "load_after": [round(x, 2) for x in os.getloadavg()]},
        "created_at": datetime.now(timezone.utc).isoformat(),
    }
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / "conversation.json").write_text(json.dumps(result, indent=2) + "\n")
    (results_dir / "conversation.md").write_text(markdown(result))
    return result


class Tally:
    """Counts over every turn of every script."""

    def __init__(self) -> None:
        self.turns = 0
        self.intents: Counter[tuple[str, bool]] = Counter()
        self.tp = self.fp = self.fn = 0
        self.states = 0
        self.clarify = Counter()
        self.edits: dict[str, list[bool]] = defaultdict(list)
        self.seconds: list[float] = []
        self.misses: list[dict] = []

    def result(self) -> dict[str, Any]:
        right = sum(n for (_, ok), n in self.intents.items() if ok)
        per_intent = {intent.value: _share(self.intents[(intent.value, True)],
                                           self.intents[(intent.value, True)] + self.intents[(intent.value, False)])
                      for intent in INTENTS}
        edit_kinds = {kind: _share(sum(oks), len(oks)) for kind, oks in sorted(self.edits.items())}
        all_edits = [ok for oks in self.edits.values() for ok in oks]
        return {
            "turns": self.turns,
            "intent_accuracy": _share(right, self.turns),
            "per_intent_accuracy": per_intent,
            "slot_f1": round(2 * self.tp / (2 * self.tp + self.fp + self.fn), 4) if self.tp + self.fp + self.fn else 1.0,
            "slot_counts": {"true_positive": self.tp, "false_positive": self.fp, "false_negative": self.fn},
            "state_accuracy": _share(self.states, self.turns),
            "edit_success": _share(sum(all_edits), len(all_edits)),
            "edit_success_per_kind": edit_kinds,
            "clarify_rate": _share(self.clarify["asked"], self.turns),
            "clarify_expected_rate": _share(self.clarify["expected"], self.turns),
            "clarify_precision": _share(self.clarify["both"], self.clarify["asked"]),
            "clarify_recall": _share(self.clarify["both"], self.clarify["expected"]),
            "turn_p50_s": round(statistics.median(self.seconds), 3) if self.seconds else None,
            "scripts_misses": self.misses[:MISSES_KEPT],
        }


def run_script(service: ShiftRecService, script: dict, tally: Tally) -> None:
    """One script, turn by turn, in its own session."""
    session, user = f"bench-{script['id']}", script["user"]
    chat = service.conversations
    anchors: dict[str, str] = {}
    labels = service.lexicon().labels()
    previous_state: dict = {}
    for number, turn in enumerate(script["turns"]):
        before = chat.state(session, user)
        check = EditCheck.before(service, user, turn, previous_state)
        previous_state = turn["state"]
        reading = chat.read(session, user, turn["text"])
        started = time.perf_counter()
        events = list(service.chat(session, user, turn["text"]))
        tally.seconds.append(time.perf_counter() - started)
        after = chat.state(session, user)
        value = turn["state"].get("like")
        if isinstance(value, str) and value not in anchors:
            anchors[value] = anchor_for(value, before.last_list) or value
        titles = service.item_titles([*reading.edit_items, *reading.slots.like_items, *after.refinement.like_items,
                                      *(item for item, _ in before.last_list)])
        expected = expected_state(turn["state"], anchors)
        actual = actual_state(after.refinement, service.memory.editor.state(user), labels, titles,
                              service._event_titles(user))
        asked, expected_ask = reading.question is not None, bool(turn.get("clarify"))
        # a turn answered with a question does nothing yet: its slots are scored on the answer turn
        predicted = set() if expected_ask else predicted_pairs(reading, labels, titles)
        wanted = set() if expected_ask else expected_pairs(turn["slots"])
        tp, fp, fn = f1_counts(wanted, predicted)
        ok_intent = reading.intent.value == turn["intent"]
        tally.turns += 1
        tally.intents[(turn["intent"], ok_intent)] += 1
        tally.tp, tally.fp, tally.fn = tally.tp + tp, tally.fp + fp, tally.fn + fn
        tally.states += expected == actual
        tally.clarify.update({"asked": asked, "expected": expected_ask, "both": asked and expected_ask})
        edit_ok = True
        if check is not None and not asked:
            edit_ok = check.after(service, user, events, expected, actual)
            tally.edits[check.kind].append(edit_ok)
        if not (ok_intent and expected == actual and not fp and not fn and asked == expected_ask and edit_ok):
            tally.misses.append({"script": script["id"], "turn": number, "text": turn["text"],
                                 "intent": [turn["intent"], reading.intent.value],
                                 "slots_missed": sorted(map(list, wanted - predicted)),
                                 "slots_extra": sorted(map(list, predicted - wanted)),
                                 "state": None if expected == actual else {"expected": expected, "actual": actual},
                                 "clarify": [expected_ask, asked],
                                 "edit": None if edit_ok else {"kind": check.kind, "reply": [e.text for e in events
                                                                                              if e.text][:2]}})


def _intent_set(service: ShiftRecService, rows: list[dict], user: str, into: dict) -> None:
    """Each message read in a session with a list on screen (what "no horror tonight" answers)."""
    shown = service.recommend(user, explain=False)
    trained_on = _training_texts()
    for index, row in enumerate(rows):
        session = f"intent-{into['total']}-{index}"
        service.conversations.remember_list(session, user, shown)
        reading = service.conversations.read(session, user, row["text"])
        ok = reading.intent.value == row["intent"]
        seen = _plain(row["text"]) in trained_on  # short common ones ("undo that") are in both
        into["right"] += ok
        into["total"] += 1
        into["in_training"] += seen
        into["right_unseen"] += ok and not seen
        if not ok:
            into["misses"].append([row["text"], row["intent"], reading.intent.value])


@functools.cache
def _training_texts() -> frozenset[str]:
    """The classifier's training messages, normalised (read once per run, not per intent set)."""
    return frozenset(_plain(text) for text, _ in training_rows())


def _plain(text: str) -> str:
    return re.sub(r"[^a-z0-9 ]", "", text.lower()).strip()


def _fresh_service(stack: ExitStack, settings: Settings, demo: str, cache_dir: Path) -> ShiftRecService:
    """The service on a copy of the demo's memory (loaded once into ``cache_dir``): scripts edit and forget."""
    template = cache_dir / demo
    loaded = settings.model_copy(update={"data_dir": template, "demo": demo})
    if not (template / f"demo-{demo}.json").exists():
        with InterestMemory.open(loaded.memory_config) as memory:
            ensure_demo_data(memory, loaded)
    work = cache_dir / f"{demo}-run-{uuid.uuid4().hex[:8]}"  # a new path: Chroma keeps one client per path
    shutil.copytree(template, work)
    stack.callback(shutil.rmtree, work, True)
    running = settings.model_copy(update={"data_dir": work, "demo": demo})
    memory = stack.enter_context(InterestMemory.open(running.memory_config))
    service = ShiftRecService.create(running.agent_config, memory, None, echo=lambda _: None, updates=False)
    stack.callback(service.close)
    return service


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def markdown(result: dict[str, Any]) -> str:
    fresh = result["fresh_dialogues"]
    rows = [("turns", result["turns"], fresh["turns"], ""),
            ("intent accuracy", result["intent_accuracy"], fresh["intent_accuracy"], TARGETS["intent_accuracy"]),
            ("slot F1", result["slot_f1"], fresh["slot_f1"], TARGETS["slot_f1"]),
            ("state accuracy", result["state_accuracy"], fresh["state_accuracy"], TARGETS["state_accuracy"]),
            ("edit success", result["edit_success"], fresh["edit_success"], "every kind 1.0"),
            ("asked instead of acting", result["clarify_rate"], fresh["clarify_rate"],
             f"as the set expects ({result['clarify_expected_rate']})"),
            ("turn p50 (s)", result["turn_p50_s"], fresh["turn_p50_s"], "")]
    lines = ["# Conversation: the labelled dialogue sets", "",
             "| measure | dialogue set (built against) | fresh set (read after its first run) | target |",
             "|---|---|---|---|"]
    lines += [f"| {name} | {ours} | {theirs} | {target} |" for name, ours, theirs, target in rows]
    lines += ["", "| intent set | accuracy | messages | note |", "|---|---|---|---|"]
    lines += [f"| {name} | {found['accuracy']} | {found['cases']} | {found['note']} |"
              for name, found in result["intent_sets"].items()]
    lines += ["", f"Blind set: {result['blind_cases_also_in_training']} of its {result['blind_cases']} messages also occur "
              f"in the training files (short common ones); on the rest: {result['blind_intent_accuracy_unseen_texts']}."]
    lines += ["", "Per intent: " + ", ".join(f"{k} {v}" for k, v in result["per_intent_accuracy"].items()),
              "", "Per edit kind: " + ", ".join(f"{k} {v}" for k, v in result["edit_success_per_kind"].items()),
              "", f"Load average before / after: {result['machine']['load_before']} / {result['machine']['load_after']}",
              ""]
    return "\n".join(lines)
