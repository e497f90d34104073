"""eval.json carries the issue's keys, and a sub-command's part survives the next one."""

from __future__ import annotations

import json

from bench.eval import report


def _metrics(value: float) -> dict:
    return {"ndcg@10": value, "hr@10": value, "map@10": value, "users": 10}


def _section() -> dict:
    models = {m: {"all": _metrics(0.1)} for m in ("pop", "itemknn", "sequential")}
    models.update({m: {"memory": _metrics(0.2)} for m in ("memory", "fusion", "shiftrec")})
    models["sequential"]["memory"] = _metrics(0.15)
    models.update({m: {"llm": _metrics(0.05)} for m in ("fusion_llm", "llm_only")})
    costs = {"sasrec_train": {"seconds": 1.0, "peak_rss_mb": 2.0}, "itemknn_fit": {"seconds": 0.1},
             "memory_ingest": {"events_per_s": 1000.0, "seconds": 3.0},
             "test_scoring": {"ms_per_user": 1.0, "peak_rss_mb": 3.0}}
    details = {"description": "d", "dataset": "ml-100k", "users": {"all": 10}, "items": 5, "seed": 0,
               "weights": {"fusion": {"sequential": 1.0}, "memory": {}, "fusion_behaviour": {},
                           "shiftrec_configured": {}, "shiftrec": {"sequential": 1.0, "itemknn": 0.5}},
               "shiftrec_ranking": {"pool_size": 20, "mmr_lambda": 0.8, "max_topic_share": 0.5, "list_length": 10},
               "shiftrec_tuning": {"held_out_cases": 300, "ndcg@10": 0.2, "configured_ndcg@10": 0.1},
               "validation_ndcg@10": {}, "costs": costs, "load_average": {}, "llm": None}
    return {"models": models, "details": details}


def _shift() -> dict:
    row = {"hit@3": 0.5, "ndcg@3": 0.4, "shift_hit@3": 0.3, "shift_ndcg@3": 0.2, "users": 4, "shift_cases": 2,
           "lift_hit@3_vs_persistence": 1.5}
    return {"selection": {}, "window": 10, "memory_subsample": {"persistence": row, "shiftrec": row}}


def _explanations() -> dict:
    writer = {"evidence_valid_rate": 1.0, "counterfactual_drop_rate": 0.6, "cited_event_exists_rate": 1.0,
              "cited_same_topic_rate": 1.0, "cited_near_rate": 0.5, "counterfactual_cases": 3}
    return {"template": writer, "audit": {"repair_rate": 0.0}, "lists": {}, "users": 2, "explained_items": 10}


def test_eval_json_has_the_issue_keys(tmp_path):
    result = report.write({"p1": _section(), "p3": _section(), "shift": _shift(),
                           "explanations": _explanations()}, tmp_path)
    saved = json.loads((tmp_path / "eval.json").read_text())
    assert saved == json.loads(json.dumps(result)), "the file holds what write returned"
    assert saved["p1"]["fusion"]["ndcg@10"] == 0.2 and saved["p1"]["pop"]["population"] == "all"
    assert set(saved["p1"]) >= {"pop", "itemknn", "memory", "sequential", "fusion", "fusion_llm", "llm_only", "shiftrec"}
    assert {"hit@3", "ndcg@3", "lift_hit@3_vs_persistence"} <= set(saved["shift"]["shiftrec"])
    assert {"evidence_valid_rate", "counterfactual_drop_rate", "repair_rate"} <= set(saved["explanations"])
    assert saved["validated_weights"]["sequential"] == 1.0
    assert saved["targets_met"]["p1_shiftrec_vs_sequential"]["met"] is True
    assert (tmp_path / "eval.md").read_text().startswith("# ShiftRec evaluation")


def test_a_later_sub_command_keeps_earlier_parts(tmp_path):
    report.write({"p1": _section()}, tmp_path)
    sections = report.sections_from_json(tmp_path / "eval.json")
    sections["shift"] = _shift()
    report.write(sections, tmp_path)
    saved = json.loads((tmp_path / "eval.json").read_text())
    assert "p1" in saved and "shift" in saved


def test_eval_app_has_one_sub_command_per_protocol():
    from typer.testing import CliRunner

    from bench.eval.cli import eval_app

    output = CliRunner().invoke(eval_app, ["--help"]).output
    for name in ("p1", "p2", "p3", "shift", "explanations", "all"):
        assert name in output
