"""Labelled questions: the eval format, follow-up groups and cross-validation folds."""

from __future__ import annotations

import json

import pytest

from knowledge.conversation import continues
from knowledge.labelled import LabelledSetError, folds, groups, items_hash, load_items, shipped_items


def test_shipped_sets_load_with_follow_ups_and_out_of_scope_items():
    items = shipped_items()
    assert len(items) >= 190
    assert any(i.previous for i in items) and any(not i.in_scope for i in items)
    assert all(i.answer_contains for i in items if i.in_scope)


def test_a_follow_up_is_always_in_the_fold_of_its_earlier_question():
    items = shipped_items()
    fold_of = dict(zip((i.question for i in items), folds(items)))
    for item, fold in zip(items, folds(items)):
        if item.previous and item.previous[-1] in fold_of:
            assert fold_of[item.previous[-1]] == fold
    counts = [folds(items).count(f) for f in range(5)]
    assert max(counts) - min(counts) <= 8


def test_groups_chain_follow_ups_of_follow_ups():
    rows = [{"id": "a", "question": "q1"}, {"id": "b", "question": "q2", "previous": "q1"},
            {"id": "c", "question": "q3", "previous": "q2"}, {"id": "d", "question": "q4"}]
    items = [load_line(row) for row in rows]
    assert groups(items) == [0, 0, 0, 3]


def load_line(row):
    from knowledge.labelled import parse_item

    return parse_item(row, 1)


def test_items_hash_is_stable_and_sensitive():
    items = shipped_items()
    assert items_hash(items) == items_hash(list(items))
    assert items_hash(items) != items_hash(items[1:])


@pytest.mark.parametrize("content,message", [
    ("{not json}\n", "line 1, is not valid JSON"),
    (json.dumps({"answer": 1}) + "\n", "line 1 needs a JSON object"),
])
def test_bad_question_files_get_one_sentence(tmp_path, content, message):
    path = tmp_path / "q.jsonl"
    path.write_text(content)
    with pytest.raises(LabelledSetError, match=message):
        load_items(path)
    with pytest.raises(LabelledSetError, match="No question file"):
        load_items(tmp_path / "missing.jsonl")


@pytest.mark.parametrize("question,previous,expected", [
    ("and what did Xi answer?", "What did Putin say about trade?", True),
    ("why not tho?", "has china ever condemned the invasion?", True),
    ("did he ever say that to biden too?", "what did xi tell trump about putin?", True),
    ("What currencies do Russia and China use for their trade?", "who is alicja bachulska", False),
    ("how big is russia's military budget this year?", "what did xi tell trump?", False),
    ("what did xi tell trump?", None, False),
])
def test_continues_tells_a_follow_up_from_a_new_question(question, previous, expected):
    names = frozenset({"putin", "xi", "russia", "china", "trump", "biden"})
    assert continues(question, previous, names) is expected
