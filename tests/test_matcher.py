"""The matcher: tokens, terms, leetspeak, fuzzy, patterns, ignore_authors, match_text, explain."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from rapidfuzz.distance import OSA

from monitor import matcher
from monitor.config import WatchConfig
from monitor.matcher import Explanation, Matcher, normalise, split_text, token_variants, tokens
from monitor.records import Match, Repo

NOW = datetime(2024, 11, 26, 13, 9, 54, tzinfo=UTC)


def repo(repo_id: str, title: str | None = None, author: str = "", repo_type: str = "space") -> Repo:
    return Repo(repo_type, repo_id, NOW, author=author or repo_id.split("/")[0], title=title)  # type: ignore[arg-type]


def watch(name: str, *terms: str, **kw) -> WatchConfig:
    return WatchConfig(name=name, terms=terms, **kw)


def found(m: Matcher, text: str) -> set[tuple[str, str, str]]:
    """(watch, rule, term) of every match of a `leakmon match` TEXT."""
    return {(x.watch, x.rule, x.term) for x in m.match_text(text)}


# ---------------------------------------------------------------------------------------------
# tokens and normalise


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PR-Puppet-Sora", ["pr", "puppet", "sora"]),
        ("MistralMedium", ["mistral", "medium"]),
        ("GPT4Turbo", ["gpt", "4", "turbo"]),
        ("LLaMAModel", ["l", "la", "ma", "model"]),  # its joins spell "llama"
        ("OpenAI", ["open", "ai"]),
        ("XLMRoberta", ["xlm", "roberta"]),
        ("llama3", ["llama", "3"]),
        ("sora2", ["sora", "2"]),
        ("Qwen2.5-7B-Instruct", ["qwen", "2", "5", "7", "b", "instruct"]),
        ("mistral_medium.v2 final/x", ["mistral", "medium", "v", "2", "final", "x"]),
        ("SORA", ["sora"]),
        ("ｓｏｒａ", ["sora"]),  # fullwidth
        ("𝐒𝐨𝐫𝐚", ["sora"]),  # mathematical bold
        ("Sоra", ["sora"]),  # Cyrillic о
        ("Sóra", ["sora"]),  # diacritic
        ("so\u200bra", ["sora"]),  # zero-width space
        ("so\u3164ra", ["sora"]),  # Hangul filler: a letter that shows nothing
        ("ꜱᴏʀᴀ", ["sora"]),  # small capitals
        ("🅢🅞🅡🅐 🆂🅾🆁🅰", ["sora", "sora"]),  # negative circled and squared letters
        ("Gεmini", ["gemini"]),  # Greek epsilon
        ("Veo З", ["veo", "3"]),  # Cyrillic Ze, whose TR39 prototype is the digit 3
        ("Qwen-3.0-Max", ["qwen", "3", "max"]),  # a trailing .0 is dropped
        ("v1.0.0 v0.0.1 v1.05", ["v", "1", "v", "0", "0", "1", "v", "1", "05"]),
        ("通义千问Qwen", ["通义千问", "qwen"]),
        ("", []),
        ("---", []),
    ],
)
def test_tokens(text: str, expected: list[str]) -> None:
    assert tokens(text) == expected


def test_normalise_keeps_separators() -> None:
    assert normalise("PR-Puppet-Sóra") == "pr-puppet-sora"
    assert normalise("ＧＰＴ４") == "gpt4"


def test_token_variants_show_leetspeak_readings() -> None:
    (run, readings), *_ = token_variants("s0r4-v2")
    assert run == "s0r4"
    assert readings[0] == ("s", "0", "r", "4")
    assert ("sora",) in readings
    assert token_variants("qwen-2") == []
    assert ("llama", "3") in token_variants("l1am43")[0][1]
    assert ("mistral",) in token_variants("m1stral")[0][1]
    assert ("llama",) in token_variants("l1ama")[0][1]


# ---------------------------------------------------------------------------------------------
# terms: tables of positives and negatives

WATCHES = [
    watch("sora", "sora", "sora-turbo"),
    watch("mistral", "mistral-medium"),
    watch("mistral-7", "mistral"),
    watch("gemini", "gemini-ultra", "Gemini"),
    watch("qwen", "qwen-3"),
    watch("veo", "veo-3"),
    watch("llama", "llama-3"),
    watch("geminiultra", "geminiultra"),
]
M = Matcher(WATCHES)

POSITIVES = [
    # text, (watch, rule, term) expected among the matches
    ("PR-Puppets/PR-Puppet-Sora", ("sora", "term", "sora")),
    ("x/Sora", ("sora", "term", "sora")),
    ("x/SORA", ("sora", "term", "sora")),
    ("x/sora_v2", ("sora", "term", "sora")),
    ("x/sora-v2", ("sora", "term", "sora")),
    ("x/Sora2", ("sora", "term", "sora")),
    ("x/OpenSora", ("sora", "term", "sora")),  # camelCase makes the boundary
    ("x/S.O.R.A", ("sora", "term", "sora")),
    ("x/s0r4", ("sora", "term", "sora")),
    ("x/S0R4-demo", ("sora", "term", "sora")),
    ("x/5ora", ("sora", "term", "sora")),
    ("x/$ora", ("sora", "term", "sora")),
    ("x/Sora Turbo", ("sora", "term", "sora-turbo")),
    ("x/SoraTurbo", ("sora", "term", "sora-turbo")),
    ("x/sora_turbo_preview", ("sora", "term", "sora-turbo")),
    ("x/s0r4-7urb0", ("sora", "term", "sora-turbo")),
    ("x/ｓｏｒａ", ("sora", "term", "sora")),
    ("x/Sоra", ("sora", "term", "sora")),  # Cyrillic о
    ("x/MistralMedium", ("mistral", "term", "mistral-medium")),
    ("x/mistral_medium", ("mistral", "term", "mistral-medium")),
    ("x/mistral-medium", ("mistral", "term", "mistral-medium")),
    ("x/mistralmedium", ("mistral", "term", "mistral-medium")),
    ("x/Mistral Medium 3", ("mistral", "term", "mistral-medium")),
    ("x/m1stral-med1um", ("mistral", "term", "mistral-medium")),
    ("x/m1stral", ("mistral-7", "term", "mistral")),
    ("x/Mistral-7B-v0.1", ("mistral-7", "term", "mistral")),
    ("x/g3mini", ("gemini", "term", "Gemini")),
    ("x/Gemini Ultra", ("gemini", "term", "gemini-ultra")),
    ("x/gemini-ultra", ("geminiultra", "term", "geminiultra")),  # a one-word term split by the candidate
    ("x/qwen-3", ("qwen", "term", "qwen-3")),
    ("x/Qwen3-Coder", ("qwen", "term", "qwen-3")),
    ("x/veo-3", ("veo", "term", "veo-3")),
    ("x/Veo3-fast", ("veo", "term", "veo-3")),
    ("x/llama-3", ("llama", "term", "llama-3")),
    ("x/llama3", ("llama", "term", "llama-3")),
    ("x/Llama-3.1-8B", ("llama", "term", "llama-3")),
    ("x/LLaMA-3", ("llama", "term", "llama-3")),
    ("x/l1ama-3", ("llama", "term", "llama-3")),
    ("x/1lama3", ("llama", "term", "llama-3")),
    ("x/l1am43", ("llama", "term", "llama-3")),  # leetspeak next to the version
    ("x/Veo-v3", ("veo", "term", "veo-3")),  # a "v" before the version is optional
    ("x/llamav3-8b", ("llama", "term", "llama-3")),
    ("x/Qwen-3.0-Coder", ("qwen", "term", "qwen-3")),  # 3.0 is version 3
    ("Veo З", ("veo", "term", "veo-3")),  # Cyrillic Ze for the 3
    ("Sora 2 leaked demo", ("sora", "term", "sora")),  # a title
]


@pytest.mark.parametrize(("text", "expected"), POSITIVES)
def test_positive(text: str, expected: tuple[str, str, str]) -> None:
    assert expected in found(M, text)


NEGATIVES = [
    # text, watch that must not match
    ("x/soraka", "sora"),
    ("x/sorabji", "sora"),
    ("x/tessora", "sora"),
    ("x/Sorayama", "sora"),
    ("x/sora-turbine", "sora"),  # matches "sora" but not "sora-turbo" -- checked below
    ("x/sona", "sora"),  # fuzzy needs 5+ letters
    ("x/qwen-2", "qwen"),
    ("x/qwen2", "qwen"),
    ("x/Qwen-30B", "qwen"),
    ("x/qwen", "qwen"),
    ("x/veo-30", "veo"),
    ("x/veo-2", "veo"),
    ("x/llama-2-13b", "llama"),
    ("x/llama-30b", "llama"),
    ("x/mistralai", "mistral-7"),
    ("x/geminate", "gemini"),
    ("x/veo-v2", "veo"),
    ("x/veo-v30", "veo"),
    ("x/qwen-30.0", "qwen"),
]


@pytest.mark.parametrize(("text", "watch_name"), NEGATIVES)
def test_negative(text: str, watch_name: str) -> None:
    hits = found(M, text)
    if text == "x/sora-turbine":
        assert ("sora", "term", "sora") in hits
        assert not any(term == "sora-turbo" for _, _, term in hits)
    else:
        assert not any(w == watch_name for w, _, _ in hits), hits


def test_the_puppet_sora_leak() -> None:
    m = Matcher([watch("sora", "sora", "sora-turbo", ignore_authors=("openai",))])
    [match] = m.match_repo(repo("PR-Puppets/PR-Puppet-Sora"))
    assert match == Match(
        watch="sora", rule="term", field="repo_id", term="sora", text="PR-Puppet-Sora", score=1.0
    )
    assert match.as_dict() == {
        "rule": "term",
        "field": "repo_id",
        "term": "sora",
        "text": "PR-Puppet-Sora",
        "score": 1.0,
    }


def test_term_as_configured_is_reported() -> None:
    m = Matcher([watch("g", "Gemini Ultra")])
    [match] = m.match_text("x/gemini_ultra")
    assert match.term == "Gemini Ultra"
    assert match.text == "gemini_ultra"


# ---------------------------------------------------------------------------------------------
# fuzzy


@pytest.mark.parametrize(
    ("term", "text"),
    [
        ("gemini-ultra", "x/gemini_ulta"),  # deletion in "ultra"
        ("gemini-ultra", "x/gemni-ultra"),  # deletion in "gemini"
        ("gemini-ultra", "x/geminiulta"),  # joined and misspelt
        ("geminiultra", "x/gemini-ulta"),
        ("mistral", "x/mistrall"),  # insertion
        ("mistral", "x/mistarl"),  # transposition
        ("mistral", "x/mistrel"),  # substitution
        ("mistral", "x/mstral-7b"),
        ("mistral", "x/MistarlMedium"),
        ("sora-turbo", "x/sora-trubo"),  # the typo is in the 5-letter word
        ("llama-3", "x/lama-3"),
    ],
)
def test_fuzzy_positive(term: str, text: str) -> None:
    m = Matcher([watch("w", term)])
    matches = m.match_text(text)
    assert [(x.rule, x.term) for x in matches] == [("fuzzy", term)]
    assert 0.5 < matches[0].score < 1.0


@pytest.mark.parametrize(
    ("term", "text"),
    [
        ("sora", "x/sona"),  # 4 letters: no fuzzy
        ("sora", "x/soar"),
        ("sora-turbo", "x/sona-turbo"),  # typo in the 4-letter word
        ("qwen-3", "x/qwen-2"),
        ("llama-3", "x/llama-2"),  # digits never change
        ("llama-3", "x/llama-30"),
        ("llama-3", "x/llama-e"),
        ("veo-3", "x/veo-30"),
        ("mistral", "x/mistrial-x"),  # two edits away? no: one insertion; checked below with fuzzy off
        ("mistral", "x/mixtral"),  # one substitution, but... see below
        ("mistral", "x/minstrel"),  # two edits
    ],
)
def test_fuzzy_negative(term: str, text: str) -> None:
    m = Matcher([watch("w", term)])
    hits = m.match_text(text)
    if text in ("x/mistrial-x", "x/mixtral"):  # one typo away: fuzzy matches, fuzzy=false does not
        assert [x.rule for x in hits] == ["fuzzy"]
        assert Matcher([watch("w", term, fuzzy=False)]).match_text(text) == []
    else:
        assert hits == []


def test_no_typo_on_top_of_leetspeak() -> None:
    """Fuzzy reads the text as written: a leetspeak reading could make a version digit a letter
    and then let the typo drop it ("aaaaa50" for "aaaaa-0")."""
    assert Matcher([watch("w", "mistral")]).match_text("x/m1strall") == []
    assert Matcher([watch("w", "aaaaa-0")]).match_text("x/AAAAA50") == []
    assert found(Matcher([watch("w", "mistral")]), "x/m1stral") == {("w", "term", "mistral")}


def test_a_term_with_v_before_its_version() -> None:
    m = Matcher([watch("mj", "midjourney-v7")])
    for text in (
        "x/midjourney-v7",
        "x/Midjourney7",
        "x/midjourney-7.1",
        "x/midjourney-v7.0",
        "x/midjourney-v-7",
    ):
        assert found(m, text) == {("mj", "term", "midjourney-v7")}, text
    assert found(m, "x/midjourny-7") == {("mj", "fuzzy", "midjourney-v7")}
    for text in ("x/midjourney-v77", "x/midjourney-6", "x/midjourney-vv7"):
        assert found(m, text) == set(), text


def test_fuzzy_off() -> None:
    m = Matcher([watch("w", "mistral", "gemini-ultra", fuzzy=False)])
    assert m.match_text("x/mistrall") == []
    assert m.match_text("x/gemini_ulta") == []
    assert [x.rule for x in m.match_text("x/mistral")] == ["term"]


def test_fuzzy_score() -> None:
    m = Matcher([watch("w", "mistral")])
    [match] = m.match_text("x/mistarl")
    assert match.score == pytest.approx(1 - 1 / 7, abs=1e-3)
    [match] = m.match_text("x/mistrall")
    assert match.score == pytest.approx(1 - 1 / 8, abs=1e-3)


def test_exact_beats_fuzzy_for_the_same_term() -> None:
    m = Matcher([watch("w", "mistral")])
    # "mistral" exact in the name; "mistrall" fuzzy too: one match, exact
    assert [(x.rule, x.score) for x in m.match_text("x/mistral-mistrall")] == [("term", 1.0)]


@settings(max_examples=300, deadline=None)
@given(
    key=st.text(alphabet="abcdefghijklmnop", min_size=5, max_size=9),
    cand=st.text(alphabet="abcdefghijklmnop", min_size=3, max_size=10),
)
@example(key="mistral", cand="mistarl")
@example(key="abcde", cand="bacde")
def test_fuzzy_index_agrees_with_a_plain_distance(key: str, cand: str) -> None:
    """The deletion index finds exactly the one-edit (OSA) neighbours of a one-word term."""
    m = Matcher([watch("w", key)])
    rules = {x.rule for x in m.match_text("x/" + cand)}
    distance = OSA.distance(key, cand)
    if distance == 0:
        assert rules == {"term"}
    elif distance == 1:
        assert rules == {"fuzzy"}
    else:
        assert rules == set()


# ---------------------------------------------------------------------------------------------
# patterns


def test_patterns_record_the_field() -> None:
    m = Matcher([watch("sora", "zzzz", patterns=(r"sora[-_ ]?v\d",))])
    [match] = m.match_repo(repo("someone/demo-SORA_v2-test"))
    assert (match.rule, match.field, match.term, match.text, match.score) == (
        "pattern",
        "repo_id",
        r"sora[-_ ]?v\d",
        "demo-SORA_v2-test",
        1.0,
    )
    [match] = m.match_repo(repo("someone/demo", title="Sora v3 preview"))
    assert (match.rule, match.field, match.text) == ("pattern", "title", "Sora v3 preview")


def test_patterns_search_each_field_on_its_own() -> None:
    m = Matcher([watch("w", "zzzz", patterns=("^openai",))])
    [owner_match] = m.match_repo(repo("openai/demo"))
    assert (owner_match.field, owner_match.text) == ("owner", "openai")
    [name_match] = m.match_repo(repo("x/openai-demo"))
    assert (name_match.field, name_match.text) == ("repo_id", "openai-demo")
    assert m.match_repo(repo("x/not-openai")) == []  # anchored to the start of a field, not of the id


def test_several_patterns_and_ones_that_do_not_combine() -> None:
    m = Matcher(
        [
            watch("a", "zzzz", patterns=(r"(x)\1y", "foo")),
            watch("b", "zzzz", patterns=(r"(?P<n>bar)",)),
            watch("c", "zzzz", patterns=(r"(?P<n>baz)",)),  # duplicate group name across watches
        ]
    )
    assert found(m, "x/xxy") == {("a", "pattern", r"(x)\1y")}
    assert found(m, "x/bar-baz-foo") == {
        ("a", "pattern", "foo"),
        ("b", "pattern", "(?P<n>bar)"),
        ("c", "pattern", "(?P<n>baz)"),
    }
    assert found(m, "x/nothing") == set()


def test_pattern_sees_unicode_folded_text() -> None:
    m = Matcher([watch("w", "zzzz", patterns=("sora",))])
    assert found(m, "x/ｓｏｒａ-v2") == {("w", "pattern", "sora")}


def test_bad_regex_is_a_clear_value_error() -> None:
    with pytest.raises(
        ValueError, match=r"watch 'w': pattern '\(unclosed' is not a valid regular expression"
    ):
        Matcher([watch("w", "sora", patterns=("(unclosed",))])


def test_term_without_letters_or_digits_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="watch 'w': term '---' has no letters or digits"):
        Matcher([watch("w", "---")])


# ---------------------------------------------------------------------------------------------
# ignore_authors, titles, several watches


def test_ignore_authors_is_case_insensitive_and_per_watch() -> None:
    m = Matcher([watch("sora", "sora", ignore_authors=("OpenAI",)), watch("all", "sora")])
    assert {x.watch for x in m.match_repo(repo("openai/sora-demo"))} == {"all"}
    assert {x.watch for x in m.match_repo(repo("OPENAI/sora-demo"))} == {"all"}
    assert {x.watch for x in m.match_repo(repo("PR-Puppets/sora-demo"))} == {"sora", "all"}
    # the author field counts too
    assert {x.watch for x in m.match_repo(repo("org/sora", author="OpenAI"))} == {"all"}
    # and titles of ignored owners' repos
    assert {x.watch for x in m.match_repo(repo("openai/demo", title="Sora"))} == {"all"}


def test_titles() -> None:
    m = Matcher([watch("sora", "sora"), watch("mistral", "mistral-medium")])
    matches = m.match_repo(repo("someone/video-demo", title="PR Puppet: Sora Turbo"))
    assert [(x.watch, x.field, x.text) for x in matches] == [("sora", "title", "PR Puppet: Sora Turbo")]
    both = m.match_repo(repo("someone/sora-app", title="Mistral Medium chat"))
    assert [(x.watch, x.field) for x in both] == [("sora", "repo_id"), ("mistral", "title")]
    assert m.match_repo(repo("someone/x", title="")) == []
    assert m.match_repo(repo("someone/x", title=None)) == []


def test_several_matches_per_watch_are_ordered_and_deduplicated() -> None:
    m = Matcher([watch("sora", "sora", "sora-turbo", patterns=("turbo",))])
    matches = m.match_repo(repo("x/sora-turbo-sora", title="Sora Turbo"))
    assert [(x.field, x.rule, x.term) for x in matches] == [
        ("repo_id", "term", "sora"),
        ("repo_id", "term", "sora-turbo"),
        ("repo_id", "pattern", "turbo"),
        ("title", "term", "sora"),
        ("title", "term", "sora-turbo"),
        ("title", "pattern", "turbo"),
    ]


def test_no_watches() -> None:
    m = Matcher([])
    assert m.match_text("x/sora") == []
    assert m.explain("x/sora").watches == ()


def test_required_fields() -> None:
    assert Matcher.required_fields == {
        "model": ("author", "cardData", "tags", "baseModels"),
        "dataset": ("author", "cardData", "tags"),
        "space": ("author", "cardData", "tags", "models"),
    }


def test_caches_do_not_change_results() -> None:
    m = Matcher(WATCHES)
    texts = [t for t, _ in POSITIVES] + [t for t, _ in NEGATIVES]
    first = [m.match_text(t) for t in texts]
    assert [m.match_text(t) for t in texts] == first
    assert [Matcher(WATCHES).match_text(t) for t in texts] == first


# ---------------------------------------------------------------------------------------------
# match_text and explain


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PR-Puppets/PR-Puppet-Sora", ("PR-Puppets", "PR-Puppet-Sora", "repo_id")),
        ("Sora Turbo demo", (None, "Sora Turbo demo", "title")),
        (
            "https://huggingface.co/spaces/PR-Puppets/PR-Puppet-Sora",
            ("PR-Puppets", "PR-Puppet-Sora", "repo_id"),
        ),
        ("https://huggingface.co/openai/sora/tree/main", ("openai", "sora", "repo_id")),
        ("a/b/c", ("a", "b/c", "repo_id")),
    ],
)
def test_split_text(text: str, expected: tuple) -> None:
    assert split_text(text) == expected


def test_match_text_repo_id_or_title() -> None:
    m = Matcher([watch("sora", "sora", ignore_authors=("openai",))])
    [match] = m.match_text("PR-Puppets/PR-Puppet-Sora")
    assert (match.field, match.text) == ("repo_id", "PR-Puppet-Sora")
    assert m.match_text("openai/sora") == []  # owner ignored
    assert m.match_text("OpenAI/sora") == []
    [match] = m.match_text("openai sora")  # no "/": a title, no owner to ignore
    assert (match.field, match.text) == ("title", "openai sora")
    [owner] = m.match_text("sora-leaks/demo")  # the owner is a field of its own
    assert (owner.field, owner.text) == ("owner", "sora-leaks")
    assert m.match_text("soraya-h/demo") == []  # ...with the same whole-token rules


def test_explain_a_match() -> None:
    m = Matcher([watch("sora", "sora", "sora-turbo"), watch("gemini", "gemini-ultra")])
    exp = m.explain("PR-Puppets/PR-Puppet-S0ra")
    assert isinstance(exp, Explanation)
    assert (exp.field, exp.owner, exp.target) == ("repo_id", "PR-Puppets", "PR-Puppet-S0ra")
    assert exp.tokens == ("pr", "puppet", "s", "0", "ra")
    assert exp.matched
    [sora, gemini] = exp.watches
    assert sora.matched and [x.term for x in sora.matches] == ["sora"]
    assert not gemini.matched
    text = "\n".join(exp.lines())
    assert "tokens: pr puppet s 0 ra" in text
    assert "leetspeak: 'S0ra' reads as s 0 ra | sora" in text
    assert "watch 'sora': MATCH" in text
    assert "watch 'gemini': no match" in text
    json.dumps(exp.as_dict())  # serialisable for --json


@pytest.mark.parametrize(
    ("watches", "text", "reason"),
    [
        ([watch("sora", "sora")], "x/soraka", "'sora' occurs only inside the longer word 'soraka'"),
        ([watch("sora", "sora")], "x/tessora-v2", "'sora' occurs only inside the longer word 'tessora'"),
        ([watch("sora", "sora")], "x/sona", "nearest: 'sona' (1 edit: fuzzy needs a word of 5+ letters"),
        ([watch("qwen", "qwen-3")], "x/qwen-2", "nearest: 'qwen2' (1 edit: the difference is a digit"),
        ([watch("m", "mistral", fuzzy=False)], "x/mistrall", "1 edit: fuzzy matching is off for this watch"),
        ([watch("m", "sora-turbo")], "x/sona-turbo", "the typo falls outside every word of 5+ letters"),
        ([watch("m", "mistral")], "x/mixtrel", "nearest: 'mixtrel' (2 edits; fuzzy allows one)"),
        ([watch("m", "mistral")], "x/completely-else", "no token or run of adjacent tokens spells 'mistral'"),
        ([watch("m", "zzzz", patterns=("^sora$",))], "x/sora2", "pattern '^sora$' does not match 'sora2'"),
        (
            [watch("s", "sora", ignore_authors=("openai",))],
            "OpenAI/sora",
            "owner 'OpenAI' is in ignore_authors",
        ),
    ],
)
def test_explain_why_not(watches: list[WatchConfig], text: str, reason: str) -> None:
    exp = Matcher(watches).explain(text)
    assert not exp.matched
    assert reason in "\n".join(exp.lines())


def test_explain_a_title() -> None:
    exp = Matcher([watch("sora", "sora")]).explain("Sora Turbo demo")
    assert (exp.field, exp.owner, exp.normalised) == ("title", None, "sora turbo demo")
    assert exp.lines()[0] == "'Sora Turbo demo': title (field title)"
    assert exp.as_dict()["watches"][0]["matches"][0]["field"] == "title"


# ---------------------------------------------------------------------------------------------
# properties

_LEET = {"o": "0", "i": "1", "l": "1", "e": "3", "a": "4", "s": "5", "t": "7"}
_SEPARATORS = ["-", "_", " ", ".", "", " - ", "/", "__"]


@st.composite
def term_and_disguise(draw: st.DrawFn) -> tuple[str, str]:
    """A term of 1-3 words (and maybe a version), and the same term disguised: case changes, up to
    3 leetspeak characters per word (at least one letter kept), any separators between words (or
    none), and words around it."""
    words = draw(
        st.lists(
            st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=3, max_size=8), min_size=1, max_size=3
        )
    )
    if draw(st.booleans()):
        words.insert(draw(st.integers(1, len(words))), str(draw(st.integers(1, 99))))
    term = draw(st.sampled_from(["-", " ", "_"])).join(words)
    pieces = []
    for word in words:
        chars = list(word)
        if not word.isdigit():
            positions = range(len(chars))
            leet = draw(st.sets(st.sampled_from(positions), max_size=min(3, len(chars) - 1)))
            for i in leet:
                chars[i] = _LEET.get(chars[i], chars[i])
            cases = draw(st.lists(st.booleans(), min_size=len(chars), max_size=len(chars)))
            chars = [c.upper() if up else c for c, up in zip(chars, cases, strict=True)]
        pieces.append("".join(chars))
    text = pieces[0]
    for piece in pieces[1:]:
        text += draw(st.sampled_from(_SEPARATORS)) + piece
    before = draw(st.sampled_from(["", "my-", "PR-Puppet-", "Open "]))
    after = draw(st.sampled_from(["", "-demo", "_GGUF", " (leaked)"]))
    return term, before + text + after


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(term_and_disguise())
@example(("sora", "s0r4"))
@example(("mistral medium", "M1stralMed1um"))
@example(("llama 3", "l1am43"))
@example(("gemini 3 pro", "g3m1n13pr0"))
@example(("lie abc", "l13abc"))
@example(("aaa-1-oaaa-aaa", "aaa-1.0aaa-aaa"))  # a leetspeak 0 after a version dot, not a ".0"
def test_disguised_terms_still_match(case: tuple[str, str]) -> None:
    term, text = case
    m = Matcher([watch("w", term, fuzzy=False)])
    assert ("w", "term", term) in found(m, "owner/" + text), (term, text, token_variants(text))
    assert ("w", "term", term) in found(m, text.replace("/", " "))  # as a title


@settings(max_examples=200, deadline=None)
@given(
    word=st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=3, max_size=8),
    version=st.integers(0, 120),
    other=st.integers(0, 120),
    leet=st.booleans(),
    sep=st.sampled_from(["-", "", "_", " ", "."]),
)
def test_digits_never_change(word: str, version: int, other: int, leet: bool, sep: str) -> None:
    """A term with a version never matches a text without that version, fuzzy or not, leetspeak or
    not. (A text whose digits, leetspeak ones included, spell the version is another matter:
    "bbbb0-1" holds "bbbb" version 0, one typo from "bbbbo-0"; "bbbb1-10" holds 1.10.)"""
    disguised = "".join(_LEET.get(c, c) for c in word) if leet else word.upper()
    text = f"x/{disguised}{sep}{other}"
    assume(str(version) not in "".join(c for c in text if c.isdigit()))
    m = Matcher([watch("w", f"{word}-{version}")])
    assert m.match_text(text) == []


@settings(max_examples=200, deadline=None)
@given(
    term=st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=3, max_size=8),
    before=st.text(alphabet="abcdefghijklmnopqrstuvwxyz", max_size=4),
    after=st.text(alphabet="abcdefghijklmnopqrstuvwxyz", max_size=4),
)
def test_never_inside_a_longer_word(term: str, before: str, after: str) -> None:
    assume(before or after)
    m = Matcher([watch("w", term, fuzzy=False)])
    assert m.match_text(f"x/{before}{term}{after}-v2") == []
    assert m.match_text(f"x/{before.capitalize()}{term.capitalize()}-v2")  # camelCase is a boundary


M_ALL = Matcher([*WATCHES, watch("p", "zzzz", patterns=(r"s.r.", r"(a)\1"))])


@settings(max_examples=300, deadline=None)
@given(st.text())
@example("\ud800")
@example("x/\ud800sora\udfff")
@example("\x00\x01\x1b[31m/sora\r\n")
@example("😀/🦙llama-3🔥")
@example("s0r4" * 2500)
@example("a1b1c1d1e1f1g1h1i1j1k1l1m1n1" * 50)
@example("/")
@example("")
def test_any_text_never_raises(text: str) -> None:
    m = M_ALL
    assert isinstance(tokens(text), list)
    assert isinstance(normalise(text), str)
    assert isinstance(m.match_text(text), list)
    exp = m.explain(text)
    assert exp.lines()
    json.dumps(exp.as_dict())
    owner, _, name = text.partition("/")
    m.match_repo(Repo("model", text, NOW, author=owner, title=name))


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="aAbBzZ0134579@$_-. /", max_size=16))
def test_ascii_fast_paths_agree_with_the_general_regexes(text: str) -> None:
    assert matcher._ASCII_TOKEN_RE.findall(text) == matcher._TOKEN_RE.findall(text)
    assert matcher._ASCII_RUN_RE.findall(text) == matcher._RUN_RE.findall(text)
    old_hint = re.search(r"[^\W\d_][013457@$]|[013457@$][^\W\d_]", text)
    assert bool(matcher._LEET_HINT_RE.search(text)) == bool(old_hint)


# ---------------------------------------------------------------------------------------------
# The fast path for texts that match nothing (Matcher._quiet) must agree with the general path


def general_path(m: Matcher) -> Matcher:
    """The same matcher with its fast path switched off: every text takes the general path."""
    m._quiet = lambda folded: False  # type: ignore[method-assign]
    return m


FAST_WATCHES = [
    *WATCHES,
    watch("syllables", "karino", "vex-tarlu", "monsal-ark", "dri-7", "belcy", "lu-7", "zekapo"),
    watch("exact", "terion", "so ra", "ab", fuzzy=False),
    watch("versions", "midjourney-v7", "gpt-4o", "qwen-2.5"),
    watch("patterns", "zzzzz", patterns=(r"ka.ri",)),
]
FAST = Matcher(FAST_WATCHES)  # shared, so its caches fill up across examples as in a scan
GENERAL = general_path(Matcher(FAST_WATCHES))
_KEYS = ["sora", "turbo", "mistral", "medium", "gemini", "ultra", "qwen", "llama", "karino", "vex",
         "tarlu", "monsal", "ark", "dri", "belcy", "zekapo", "terion", "midjourney", "gpt", "lu"]  # fmt: skip
_SEPS = ["-", "_", ".", " ", "", "/", "--", "@", "$", " @ ", "-$-", "\u200b", "·"]


@st.composite
def near_misses(draw: st.DrawFn) -> str:
    """Texts made of watched words and pieces of them: prefixes, suffixes, one typo, leetspeak,
    case changes, versions and stray letters, with any separators (or none, or runs without a
    letter or digit) between them: the texts where a walk goes on from one run to the next."""
    pieces = []
    for _ in range(draw(st.integers(1, 6))):
        word = draw(st.sampled_from(_KEYS))
        kind = draw(
            st.sampled_from(["word", "prefix", "suffix", "typo", "leet", "version", "letter", "split"])
        )
        if kind == "prefix":
            word = word[: draw(st.integers(1, len(word)))]
        elif kind == "suffix":
            word = word[draw(st.integers(0, len(word) - 1)) :]
        elif kind in ("typo", "split"):
            i = draw(st.integers(0, len(word) - 1))
            edit = draw(st.sampled_from(["insert", "delete", "substitute", "transpose"]))
            c = draw(st.sampled_from("aeiorstxz"))
            word = {
                "insert": word[:i] + c + word[i:],
                "delete": word[:i] + word[i + 1 :],
                "substitute": word[:i] + c + word[i + 1 :],
                "transpose": word[:i] + word[i + 1 : i + 2] + word[i : i + 1] + word[i + 2 :],
            }[edit]
        elif kind == "leet":
            word = "".join(_LEET.get(c, c) if draw(st.booleans()) else c for c in word)
        elif kind == "version":
            word = draw(st.sampled_from(["v", "", "V"])) + str(draw(st.integers(0, 12)))
        elif kind == "letter":
            word = draw(st.sampled_from(["b", "k", "B", "x", "s", "7b", "8B", "a3b", "i", "l"]))
        if draw(st.booleans()):
            word = word.capitalize() if draw(st.booleans()) else word.upper()
        if kind == "split":  # the word, maybe misspelt, in 2-3 runs
            cuts = sorted(draw(st.sets(st.integers(1, max(1, len(word) - 1)), min_size=1, max_size=2)))
            parts = [word[a:b] for a, b in zip([0, *cuts], [*cuts, len(word)], strict=True)]
            word = "".join(part + draw(st.sampled_from(_SEPS)) for part in parts[:-1]) + parts[-1]
        pieces.append(word)
    text = pieces[0]
    for piece in pieces[1:]:
        text += draw(st.sampled_from(_SEPS)) + piece
    return text


def assert_fast_path_agrees(fast: Matcher, general: Matcher, text: str) -> None:
    """When the fast path calls a text quiet, the general path finds nothing in it; and every
    result, of `_hits` and of `match_repo` in every field, is the same with and without it."""
    folded = matcher._fold(text)
    found: list[tuple[int, int, int, float]] = []
    general._term_hits(folded, found)
    if fast._quiet(folded):
        assert found == [], (text, found)
    assert fast._hits(text) == general._hits(text), text
    owner, _, name = text.partition("/")
    r = Repo("model", text, NOW, author=owner, title=name, tags=(text, name), base_models=(owner,))
    assert fast.match_repo(r) == general.match_repo(r), text


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(near_misses())
@example("7b-lora-sora")  # an open run ("b" starts keys), then one that closes it
@example("mistral-@-medium")  # a run without letters or digits between the words
@example("gemini-ult-ra")  # a walk across three runs
@example("s0r4-7urb0")  # leetspeak readings across runs
@example("kxrin-o")  # a typo found by completing a misspelt start with the next run
@example("kxri-n-o")  # ... with the next two runs
@example("vex-@-tarlu")  # a walk across a run without tokens
@example("karinoo-k4rino-karimo")  # fuzzy and leetspeak side by side
def test_fast_path_agrees_with_the_general_path(text: str) -> None:
    """Adversarial texts, on a matcher whose caches hold earlier examples and on a new one."""
    assert_fast_path_agrees(FAST, GENERAL, text)
    assert_fast_path_agrees(Matcher(FAST_WATCHES), general_path(Matcher(FAST_WATCHES)), text)  # cold


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet="soratbkmelinuqwSORTBKL0134579@$-_. /\u200bоѕΟ𝐬é", max_size=40))
def test_fast_path_agrees_on_random_text(text: str) -> None:
    assert_fast_path_agrees(FAST, GENERAL, text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_fast_path_agrees_on_any_text(text: str) -> None:
    assert_fast_path_agrees(FAST, GENERAL, text)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.text(alphabet="abkos1 -", min_size=2, max_size=9), min_size=1, max_size=5),
    st.lists(st.text(alphabet="abkoslr1B$@ -_", max_size=24), min_size=1, max_size=8),
    st.booleans(),
)
def test_fast_path_agrees_for_any_terms(terms: list[str], texts: list[str], fuzzy: bool) -> None:
    """Short terms over a small alphabet: most texts hold pieces of them, so walks cross runs."""
    assume(all(tokens(t) for t in terms))
    ws = [watch("w", *terms, fuzzy=fuzzy)]
    fast, general = Matcher(ws), general_path(Matcher(ws))
    for text in texts:
        assert_fast_path_agrees(fast, general, text)


def test_fast_path_agrees_when_its_caches_are_cleared(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(matcher, "_INFO_CACHE_MAX", 3)
    fast, general = Matcher(FAST_WATCHES), general_path(Matcher(FAST_WATCHES))
    texts = [t for t, _ in POSITIVES] + [t for t, _ in NEGATIVES] + ["7b-lora-sora", "k4rino-b-x"]
    for text in texts * 2:
        assert_fast_path_agrees(fast, general, text)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="aAbBzZ0134579@$_-. /\t\x1c\x7f", max_size=16))
def test_ascii_runs_split_like_the_run_regex(text: str) -> None:
    runs = text.encode().translate(matcher._RUN_BREAKS).decode().split()
    assert runs == matcher._ASCII_RUN_RE.findall(text) == matcher._RUN_RE.findall(text)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=20), min_size=1, max_size=4), st.text(max_size=60))
def test_any_terms_compile_or_fail_cleanly(terms: list[str], text: str) -> None:
    assume(all(tokens(t) for t in terms))
    m = Matcher([watch("w", *terms)])
    for match in m.match_text(text):
        assert match.watch == "w"
        assert 0 < match.score <= 1
