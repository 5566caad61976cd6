"""Judgements without Discord: storing and changing them, listings, tallies, eval items, forget-me and retention."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot import judgements, review
from bot.judgements import QUOTE, RIGHTLY_REFUSED, SAID, SHOULD_REFUSE, Verdict
from bot.judgements._store import FORGOTTEN_USER
from bot.judgements.export import item, judged_items, quote_span
from bot.judgements.sentences import exact_span, find_sentence
from bot.log import InteractionLog, Who
from knowledge.models import Article
from tests.test_review_data import HALFTIME, PUTIN, SUPER_BOWL, fill, sample_servers, table

A, B = sample_servers()
MOD, MOD2 = "9001", "9002"


@pytest.fixture
def filled(tmp_path: Path):
    return fill(tmp_path / "interactions.db", A, B)


def test_forgotten_user_is_the_same_marker_review_uses() -> None:
    assert FORGOTTEN_USER == review.FORGOTTEN_USER


def test_the_log_keeps_where_each_quote_bold_sentence_is(filled) -> None:
    rows = table(filled.path, "SELECT * FROM interaction_quotes WHERE interaction_id = ?", (filled.ids["a_putin"],))
    assert [(r["highlight_start"], r["highlight_end"]) for r in rows] == [(0, 10)] * 3


def test_a_judgement_is_stored_per_answer_and_moderator_and_can_be_changed(filled) -> None:
    log = InteractionLog(filled.path)
    putin = filled.ids["a_putin"]
    assert judgements.judge(log.db, A.guild, putin, MOD, Verdict(QUOTE, 2)) == "new"
    assert judgements.judge(log.db, A.guild, putin, MOD, Verdict(QUOTE, 2)) == "same"
    assert judgements.judge(log.db, A.guild, putin, MOD, Verdict(SHOULD_REFUSE)) == "changed"
    assert judgements.judge(log.db, A.guild, putin, MOD2, Verdict(QUOTE, 1)) == "new"
    [mine, theirs] = sorted(judgements.of_answer(log.db, A.guild, putin), key=lambda j: j["moderator_id"])
    assert (mine["verdict"], mine["quote_rank"], theirs["quote_rank"]) == (SHOULD_REFUSE, None, 1)
    assert mine["question"] == PUTIN and mine["asker_id"] == str(A.users["alice"]) and not mine["keep_for_training"]
    assert [q["passage_id"] for q in json.loads(mine["quotes"])] == ["putin#1", "putin#2", "xi#3"]
    log.close()


def test_only_verdicts_that_fit_the_answer_are_taken_and_only_in_its_own_server(filled) -> None:
    log = InteractionLog(filled.path)
    putin, bowl = filled.ids["a_putin"], filled.ids["a_bowl_1"]
    assert judgements.judge(log.db, A.guild, putin, MOD, Verdict(QUOTE, 4)) == "invalid"  # 3 quotes shown
    assert judgements.judge(log.db, A.guild, putin, MOD, Verdict(RIGHTLY_REFUSED)) == "invalid"  # it answered
    assert judgements.judge(log.db, A.guild, bowl, MOD, Verdict(QUOTE, 1)) == "invalid"  # it refused
    assert judgements.judge(log.db, A.guild, bowl, MOD, Verdict(SAID)) == "invalid"  # no sentence
    assert judgements.judge(log.db, B.guild, putin, MOD, Verdict(QUOTE, 1)) == "missing"  # server A's row
    assert judgements.judge(log.db, A.guild, filled.ids["a_more"], MOD, Verdict(QUOTE, 1)) == "missing"
    assert judgements.judge(log.db, A.guild, filled.ids["a_error"], MOD, Verdict(SHOULD_REFUSE)) == "missing"
    with pytest.raises(ValueError):
        judgements.judge(log.db, None, putin, MOD, Verdict(QUOTE, 1))
    assert not table(filled.path, "SELECT * FROM judgements")
    log.close()


def test_a_follow_up_keeps_its_earlier_question(filled) -> None:
    log = InteractionLog(filled.path)
    half = filled.ids["a_halftime"]
    assert judgements.judge(log.db, A.guild, half, MOD, Verdict(SAID, sentence="The halftime show was Usher.")) == "new"
    [row] = judgements.of_answer(log.db, A.guild, half)
    assert (row["question"], row["previous"], row["previous_asker_id"]) == (HALFTIME, SUPER_BOWL, str(A.users["alice"]))
    log.close()


def sample_judgements(filled) -> None:
    log = InteractionLog(filled.path)
    ids = filled.ids
    judgements.judge(log.db, A.guild, ids["a_putin"], MOD, Verdict(QUOTE, 2, article_id="putin", source="p.txt"))
    judgements.judge(log.db, A.guild, ids["a_taiwan"], MOD, Verdict(SHOULD_REFUSE))
    judgements.judge(log.db, A.guild, ids["a_bowl_1"], MOD2, Verdict(RIGHTLY_REFUSED))
    judgements.judge(log.db, A.guild, ids["a_halftime"], MOD2,
                     Verdict(SAID, sentence="Usher played it.", article_id="bowl", source="b.txt"))
    judgements.judge(log.db, B.guild, ids["b_putin"], MOD, Verdict(QUOTE, 1))
    log.close()


def test_listings_filter_by_moderator_and_verdict_and_stay_in_their_server(filled) -> None:
    sample_judgements(filled)
    log = InteractionLog(filled.path)
    every = judgements.listing(log.db, A.guild, {"sub": "judged"})
    assert every.total == 4 and {j["guild_id"] for j in every.items} == {str(A.guild)}
    assert judgements.listing(log.db, A.guild, {"user": MOD2}).total == 2
    assert [j["verdict"] for j in judgements.listing(log.db, A.guild, {"verdict": "correct"}).items] == [
        RIGHTLY_REFUSED, QUOTE]
    assert judgements.listing(log.db, A.guild, {"verdict": SAID}).total == 1
    assert judgements.listing(log.db, A.guild, {"user": FORGOTTEN_USER}).total == 0
    assert judgements.listing(log.db, B.guild, {}).total == 1
    tally = judgements.tally(log.db, A.guild)
    assert (tally.answers, tally.judgements, tally.correct, tally.share_correct) == (4, 4, 2, 0.5)
    log.close()


def test_judged_items_are_in_the_eval_format(filled) -> None:
    sample_judgements(filled)
    items = judged_items(filled.path, A.guild)
    assert [i["kind"] for i in items] == ["fact", "out_of_scope", "out_of_scope", "followup"]
    putin, taiwan, bowl, half = items
    assert putin == {"id": putin["id"], "question": PUTIN, "answer_contains": ["Passage 2"], "source": "p.txt",
                     "kind": "fact"}
    assert taiwan["answer_contains"] == [] and taiwan["source"] is None and "previous" not in bowl
    assert half == {"id": half["id"], "question": HALFTIME, "answer_contains": ["Usher played it."],
                    "source": "b.txt", "kind": "followup", "previous": SUPER_BOWL}
    assert len(judged_items(filled.path)) == 5 and len(judged_items(filled.path, B.guild)) == 1
    assert all(set(i) <= {"id", "question", "answer_contains", "source", "kind", "previous"} for i in items)


def test_the_latest_judgement_of_an_answer_is_the_one_exported(filled) -> None:
    log = InteractionLog(filled.path)
    judgements.judge(log.db, A.guild, filled.ids["a_putin"], MOD, Verdict(QUOTE, 1), now="2030-01-01T00:00:00.000Z")
    judgements.judge(log.db, A.guild, filled.ids["a_putin"], MOD2, Verdict(SHOULD_REFUSE),
                     now="2030-01-02T00:00:00.000Z")
    log.close()
    [only] = judged_items(filled.path, A.guild)
    assert only["kind"] == "out_of_scope"


def test_a_quote_span_is_its_bold_sentence_or_else_the_whole_quote() -> None:
    assert quote_span({"text": "One. Two is bold. Three.", "highlight": [5, 17]}) == "Two is bold."
    assert quote_span({"text": " All of it. ", "highlight": None}) == "All of it."
    assert item({"id": 1, "question": "q", "verdict": QUOTE, "quote_rank": 3, "quotes": "[]"}) is None


def test_a_pasted_sentence_must_be_in_an_article_after_folding() -> None:
    body = "He said: “We  are friends” — and **left** the room.\nThen Xi spoke."
    assert exact_span(body, 'we are friends" - and left the ROOM') == "We  are friends” — and **left** the room"
    assert exact_span(body, "**Then Xi spoke.**") == "Then Xi spoke."
    assert exact_span(body, "Then Xi spoke loudly.") is None
    assert exact_span(body, "Xi") is None  # too short to mean anything
    articles = [Article("a", "A", "Nothing here."), Article("b", "B", body, source_file="b.txt")]
    found = find_sentence("then   xi SPOKE.", articles)
    assert (found.article_id, found.source, found.text) == ("b", "b.txt", "Then Xi spoke.")


def test_forget_me_deletes_judgements_of_her_questions_and_unnames_her_verdicts(filled) -> None:
    sample_judgements(filled)
    log = InteractionLog(filled.path)
    judgements.set_keep(log.db, A.guild, filled.ids["a_putin"], MOD, True)
    judgements.judge(log.db, A.guild, filled.ids["a_bowl_2"], str(A.users["alice"]), Verdict(RIGHTLY_REFUSED))
    result = review.forget_user(log.db, A.guild, str(A.users["alice"]))
    assert result.judgements == 3  # her putin (even kept), bowl and halftime questions
    left = table(filled.path, "SELECT * FROM judgements WHERE guild_id = ? ORDER BY id", (str(A.guild),))
    assert [j["question"] for j in left] == ["What did Xi say about Taiwan?", "who won the super bowl"]
    assert left[1]["moderator_id"] == FORGOTTEN_USER
    assert str(A.users["alice"]) not in json.dumps(left)
    log.close()


def test_retention_keeps_only_judgements_marked_for_training_and_without_user_ids(filled) -> None:
    sample_judgements(filled)
    log = InteractionLog(filled.path)
    judgements.set_keep(log.db, A.guild, filled.ids["a_halftime"], MOD2, True)
    assert not judgements.set_keep(log.db, A.guild, filled.ids["a_halftime"], MOD, True)  # MOD never judged it
    review.purge_older_than(log.db, 1, now=datetime.now(timezone.utc) + timedelta(days=30))
    [kept] = table(filled.path, "SELECT * FROM judgements")
    assert (kept["question"], kept["previous"], kept["keep_for_training"]) == (HALFTIME, SUPER_BOWL, 1)
    assert kept["interaction_id"] is kept["moderator_id"] is kept["asker_id"] is kept["previous_asker_id"] is None
    assert [i["question"] for i in judged_items(filled.path, A.guild)] == [HALFTIME]
    assert judgements.listing(log.db, A.guild, {}).total == 1
    log.close()


def test_the_export_command_writes_jsonl_to_stdout_or_a_file_and_explains_mistakes(filled, tmp_path, capsys) -> None:
    from bot.__main__ import main

    sample_judgements(filled)
    assert main(["judgements", "export", "--db", str(filled.path)]) == 0
    out, err = capsys.readouterr()
    assert [json.loads(line)["question"] for line in out.splitlines()][0] == PUTIN and len(out.splitlines()) == 5
    assert err.startswith("5 judged question(s): 2 answered, 1 follow-ups, 2 out of scope.")
    target = tmp_path / "sub" / "judged.jsonl"
    assert main(["judgements", "export", "--db", str(filled.path), "--guild", str(B.guild), "-o", str(target)]) == 0
    assert [json.loads(line)["id"] for line in target.read_text().splitlines()] == [
        j["id"] for j in judged_items(filled.path, B.guild)] and "to " + str(target) in capsys.readouterr().err
    assert main(["judgements", "export", "--db", str(filled.path), "--guild", "abc"]) == 2
    assert main(["judgements", "export", "--db", str(tmp_path / "none.db")]) == 2
    assert "no interaction log" in capsys.readouterr().err
    assert main(["judgements"]) == 2


def test_a_paste_that_only_whole_text_folding_matches_is_kept_as_pasted() -> None:
    body = r"He said \*nothing\* about the pipeline at all."
    assert exact_span(body, "He said nothing about the pipeline") == "He said nothing about the pipeline"


def test_mention_and_find_quotes_answers_can_be_judged_and_a_reply_mention_keeps_its_earlier_question(filled) -> None:
    from tests.test_review_data import quote

    log = InteractionLog(filled.path)
    who = Who(A.guild, A.channels[0], A.users["bob"], "Bob")
    found = log.record(who, "find-quotes", status="ok", question="Putin and Xi met in Beijing.",
                       quotes=(quote("putin", 1),), abstained=False)
    reply = log.record(who, "mention", status="ok", question="and what did Xi say?", parent_id=found,
                       quotes=(quote("xi", 2),), abstained=False)
    assert judgements.judge(log.db, A.guild, found, MOD, Verdict(QUOTE, 1)) == "new"
    assert judgements.judge(log.db, A.guild, reply, MOD, Verdict(QUOTE, 1)) == "new"
    [row] = judgements.of_answer(log.db, A.guild, reply)
    assert row["previous"] == "Putin and Xi met in Beijing." and row["previous_asker_id"] == str(A.users["bob"])
    log.close()
