"""The matcher: repo names and titles -> the watches they match, and why. Pure: no I/O.

How a text is read
------------------
1. Unicode folding (`normalise`): NFKD, Latin diacritics and invisible characters removed
   (``Sóra`` -> ``Sora``, ``so\\u200bra`` -> ``sora``; the Hangul fillers too, letters that show
   nothing), fullwidth and styled letters made plain (``ｓｏｒａ``, ``𝐬𝐨𝐫𝐚``, ``🅢🅞🅡🅐``, small capitals
   ``ꜱᴏʀᴀ``), Cyrillic/Greek look-alikes mapped to Latin (``Sоra`` with a Cyrillic ``о``, ``Gεmini``),
   and letters whose TR39 prototype is a digit mapped to it (``Veo З`` with a Cyrillic ``З`` -> ``Veo 3``).
   Trailing ``.0`` components of a version are dropped (``Qwen-3.0-Max`` -> ``Qwen-3-Max``).
2. Tokens (`tokens`): split on anything that is not a letter or digit, on camelCase
   (``MistralMedium`` -> mistral, medium; ``GPT4Turbo`` -> gpt, 4, turbo; ``LLaMAModel`` ->
   l, la, ma, model, whose joins spell ``llama``), and between letters and digits
   (``sora2`` -> sora, 2). Case folded.
3. Leetspeak (`token_variants`): inside a run of letters and digits that holds a letter, each group of
   0 1 3 4 5 7 @ $ next to letters is read both as written and as letters (0→o, 1→i or l, 3→e, 4→a,
   5→s, 7→t, @→a, $→s), or as letters only on the side(s) touching letters, so a version can sit
   inside (``l1am43`` -> llama, 3; ``s0r4`` -> sora; ``m1stral`` -> mistral; ``1lama`` -> llama).
   Runs without letters stay digits, so versions keep their meaning (``qwen-2`` never becomes
   anything else), and runs of 1-2 characters (``7B``, ``Q4``, ``v1``) are read only as written.
   A reading is kept only if it spells part of some key, so most names have just one. Each
   combination of kept readings is a token sequence of its own (a lattice, when there are many).

How a term matches
------------------
A term is tokenised the same way and joined: ``mistral-medium`` -> key ``mistralmedium``. A term
matches (rule "term", score 1.0) when a run of consecutive candidate tokens, joined, equals its
key. So multi-word terms match adjacent tokens in order or written together (``MistralMedium``,
``mistral_medium``, ``mistralmedium``), a one-word term matches a candidate that splits it
(``gemini-ultra`` for ``geminiultra``), and a term never matches inside a longer word: both ends
must fall on token boundaries (``sora`` does not match ``soraka``, ``tessora``, ``Sorayama``; it
matches ``OpenSora`` and ``sora2``, where camelCase or a digit makes the boundary).

Versions: a term's numbers must appear as they are; a version may go on after them (``Llama-3.1``
matches ``llama-3``), but a number never ends inside a longer one (``veo-30`` is not ``veo-3``).
A "v" before a version that follows a word is optional on both sides (``Veo-v3`` and ``llamav4``
match ``veo-3`` and ``llama 4``; ``midjourney-7`` matches ``midjourney-v7``): each term is indexed
with those spellings too.

Fuzzy (rule "fuzzy", per watch, default on): one typo -- insertion, deletion, substitution or
transposition of adjacent characters -- that falls inside a word of the term with 5+ letters
(a one-word term is one word: ``geminiultra`` has 11 letters; in ``sora-turbo`` only ``turbo`` may
carry the typo). The typo never involves a digit (``qwen-2`` != ``qwen-3``, ``veo-30`` != ``veo-3``).
The candidate is a run of consecutive tokens in which the tokens before and after the misspelt one
are exact (``gemini_ulta`` for ``gemini-ultra``), and the misspelt token with what precedes it has
4+ characters. Fuzzy reads the text as written, not its leetspeak readings: a typo on top of
leetspeak could turn a version digit into a letter and then drop it (``aaaaa50`` for ``aaaaa-0``).
Score = 1 - 1/max(len(candidate), len(key)).

Patterns (rule "pattern"): Python regexes, case-insensitive, searched in the repo name and the
title as written, and in their folded form (step 1) when that differs.

Deduplication: per watch and field, one match per rule and term (or pattern), the best score;
an exact match of a term hides a fuzzy one of the same term. Order: watches as configured, then
repo_id before title, then term, fuzzy, pattern, then terms/patterns as configured.

Speed: all watches compile into one index, and matching costs about one dict lookup per token,
whatever the number of terms. Exact keys and their proper prefixes live in one dict; fuzzy keys in
a SymSpell deletion index (every key and its 1-deletions), looked up with a candidate and its
1-deletions, then verified. What a candidate string means (exact hits, fuzzy hits, key prefix,
possible misspelt key start) is cached per string, since tokens repeat a lot across Hub names.
Most names match nothing: a fast path (`Matcher._quiet`) judges each run of letters and digits
once -- do the walks that start in it end inside it, without a hit? -- and a name made of such runs
(or whose walks end in the next run, judged once per pair) skips the general path. It only ever
says "nothing here" when the general path would find nothing; tests check that on random texts.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations, islice, product
from typing import Any, ClassVar

from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein

from monitor.config import WatchConfig
from monitor.records import Match, Repo, Suppression

__all__ = [
    "Explanation",
    "Matcher",
    "WatchExplanation",
    "normalise",
    "split_text",
    "token_variants",
    "tokens",
]

# ---------------------------------------------------------------------------------------------
# Unicode folding

# Combining marks that NFKD splits off Latin, Greek and Cyrillic letters, invisible format
# characters (soft hyphen, zero-width space/joiners, bidi controls, BOM, variation selectors), and
# the Hangul fillers: letters that show nothing, so they would split a word without a visible gap.
_DROP_RE = re.compile(
    "[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
    "\u00ad\u034f\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufe00-\ufe0f"
    "\u115f\u1160\u3164\uffa0]"
)

# Look-alikes of Latin letters (Cyrillic, Greek, Armenian, IPA), case kept so camelCase survives.
# Checked by hand; they take precedence over the TR39 data below.
_CURATED = str.maketrans(
    {
        # Cyrillic
        "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C",
        "Т": "T", "Х": "X", "У": "Y", "І": "I", "Ј": "J", "Ѕ": "S", "Ԛ": "Q", "Ԝ": "W", "Ү": "Y",
        "Һ": "H", "Ӏ": "I", "Ԁ": "D",
        "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "і": "i", "ј": "j",
        "ѕ": "s", "ԁ": "d", "һ": "h", "ԛ": "q", "ԝ": "w", "ү": "y", "ӏ": "l", "ɡ": "g",
        "к": "k", "м": "m", "т": "t", "п": "n", "з": "3", "З": "3",
        # Greek
        "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N",
        "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X", "Ϲ": "C",
        "ο": "o", "ι": "i", "ν": "v", "ρ": "p", "υ": "u", "α": "a", "ϲ": "c", "κ": "k",
        "ε": "e", "ϵ": "e", "η": "n", "τ": "t", "μ": "u", "ω": "w",
        # Armenian, Latin variants
        "օ": "o", "ս": "u", "ց": "g", "ı": "i", "ȷ": "j", "ɑ": "a", "ɩ": "i", "ʏ": "y", "ɛ": "e",
        # Latin small capitals, which "fancy text" generators use for styled titles
        "ᴀ": "a", "ʙ": "b", "ᴅ": "d", "ᴇ": "e", "ꜰ": "f", "ɢ": "g", "ʜ": "h", "ᴊ": "j", "ᴋ": "k",
        "ʟ": "l", "ᴍ": "m", "ɴ": "n", "ᴘ": "p", "ʀ": "r", "ᴛ": "t",
    }
)  # fmt: skip

# Negative circled and negative squared capitals (🅢🅞🅡🅐, 🆂🅾🆁🅰): styled letters NFKD leaves alone.
_STYLED = {base + i: chr(ord("A") + i) for base in (0x1F150, 0x1F170) for i in range(26)}


# Scripts whose letters pass for Latin ones in a repo name or a title.
_LOOKALIKE_SCRIPTS = ("LATIN", "CYRILLIC", "GREEK", "ARMENIAN", "COPTIC", "CHEROKEE", "LISU", "GEORGIAN")


def _tr39_table() -> dict[int, str]:
    """Letters that Unicode's confusables data (TR39) gives a Latin letter or a digit as prototype
    (``З`` -> 3, ``Ƽ`` -> 5: a version can be disguised too).

    The prototype's case follows the source letter, so camelCase splits survive; TR39 gives
    capital I the prototype "l", which would turn GΕΜΙΝΙ into "gemlnl", so capitals map to "I".
    """
    from confusable_homoglyphs import utils as confusables  # the TR39 data, loaded once

    table: dict[int, str] = {}
    for char, glyphs in confusables.load("confusables.json").items():
        if len(char) != 1 or char.isascii() or not unicodedata.category(char).startswith("L"):
            continue
        if not unicodedata.name(char, "").startswith(_LOOKALIKE_SCRIPTS):
            continue
        latin = [g["c"] for g in glyphs if len(g["c"]) == 1 and g["c"].isascii() and g["c"].isalnum()]
        if not latin:
            continue
        target = latin[0]
        if char.isupper():
            target = "I" if target == "l" else target.upper()
        elif char.islower():
            target = target.lower()
        table[ord(char)] = target
    return table


_HOMOGLYPHS = {**_tr39_table(), **_CURATED, **_STYLED}
# A version's trailing ".0" components: "Qwen-3.0-Max" is version 3 ("1.0.0" -> "1"; "0.0.1" stays).
# Not before a letter: in "sora-1.0mni" the 0 is a leetspeak o, not a version.
_ZERO_RE = re.compile(r"(?<=\d)(?:\.0+)+(?![\d.]|[^\W\d_])")


def _fold(text: str) -> str:
    """Unicode folding with case kept (camelCase needs it), and trailing ".0" version components
    dropped. ASCII text without ".0" is returned as is."""
    if not text.isascii():
        text = _DROP_RE.sub("", unicodedata.normalize("NFKD", text)).translate(_HOMOGLYPHS)
        text = unicodedata.normalize("NFC", text)
    if ".0" in text:
        text = _ZERO_RE.sub("", text)
    return text


def normalise(text: str) -> str:
    """The folded, case-folded form of a text that matching sees; separators are kept.

    >>> normalise("PR-Puppet-Sóra")
    'pr-puppet-sora'
    """
    return _fold(text).casefold()


# ---------------------------------------------------------------------------------------------
# Tokens

# camelCase and letter/digit splits for ASCII; other scripts' letters form their own tokens.
_TOKEN_RE = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+|[^\W\d_A-Za-z]+|\d+")
# The same tokens for ASCII text (most names), in the order that tries the common cases first.
_ASCII_TOKEN_RE = re.compile(r"[a-z]+|[A-Z][a-z]+|[0-9]+|[A-Z]+(?=[A-Z][a-z])|[A-Z]+")
# A leet character next to a letter: the only case where leetspeak readings are worth building.
# (Written to start with the leet character: the regex engine then scans for it quickly.)
_LEET_HINT_RE = re.compile(r"[013457@$](?:(?<=[^\W\d_].)|(?=[^\W\d_]))")
# Runs of letters, digits and leet symbols: leetspeak is read within one run.
_RUN_RE = re.compile(r"(?:[^\W_]|[@$])+")
_ASCII_RUN_RE = re.compile(r"[A-Za-z0-9@$]+")  # the same for ASCII text, faster

_LEET = frozenset("013457@$")
_LEET_MAP = {"0": "o", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"}
_MAX_RUN_READINGS = 64  # per run; more only for adversarial runs like "a1b1c1d1..."
_MAX_ONES = 4  # a run with more folded 1s reads them all as i or all as l


def _plain_tokens(folded: str) -> list[str]:
    if folded.isascii():
        found = _ASCII_TOKEN_RE.findall(folded)
        return " ".join(found).lower().split(" ") if found else []
    return [t.casefold() for t in _TOKEN_RE.findall(folded)]


def tokens(text: str) -> list[str]:
    """The plain tokens of a text (no leetspeak reading), as matching sees them.

    >>> tokens("PR-Puppet-Sora"), tokens("GPT4Turbo"), tokens("llama3")
    (['pr', 'puppet', 'sora'], ['gpt', '4', 'turbo'], ['llama', '3'])
    """
    return _plain_tokens(_fold(text))


@lru_cache(maxsize=1 << 16)
def _run_readings(run: str) -> tuple[tuple[str, ...], ...]:
    """The token tuples a run can be read as; the first is the plain reading."""
    plain = tuple(_plain_tokens(run))
    is_letter = [c.isalpha() for c in run]
    if True not in is_letter or not _LEET.intersection(run):
        return (plain,) if plain else ()
    n = len(run)
    first = is_letter.index(True)
    last = n - 1 - is_letter[::-1].index(True)
    # Choice points; each option is a range of positions to read as letters, the first option
    # reads the whole group as letters.
    choices: list[list[range | tuple[int, ...]]] = []
    k = first
    while k > 0 and run[k - 1] in _LEET:
        k -= 1
    if k < first:  # leading group: all, or its last 0..all-1 characters (next to the letters)
        choices.append([range(k, first)] + [range(j, first) for j in range(first, k, -1)])
    k = last + 1
    while k < n and run[k] in _LEET:
        k += 1
    if k > last + 1:  # trailing group: all, or its first 0..all-1 characters
        choices.append([range(last + 1, k)] + [range(last + 1, j) for j in range(last + 1, k)])
    i = first
    while i <= last:  # groups between letters
        if is_letter[i]:
            i += 1
            continue
        j = i
        while not is_letter[j]:
            j += 1
        if _LEET.intersection(run[i:j]):
            choices.append(_middle_options(i, j))
        i = j
    readings = [plain]
    seen = {plain}
    plans = list(islice(_combos(choices), 4 * _MAX_RUN_READINGS))
    # First every plan with its 1s all read as i or all as l, then the mixed ones.
    for uniform in (True, False):
        for combo in plans:
            folded = [p for r in combo for p in r if run[p] in _LEET]
            ones = [p for p in folded if run[p] == "1"]
            if uniform:
                one_options: Iterable[tuple[str, ...]] = (
                    [("i",) * len(ones), ("l",) * len(ones)] if ones else [()]
                )
            elif 1 < len(ones) <= _MAX_ONES:
                one_options = [o for o in product("il", repeat=len(ones)) if len(set(o)) > 1]
            else:
                continue
            for one_letters in one_options:
                chars = list(run)
                for p in folded:
                    chars[p] = _LEET_MAP.get(run[p], "")
                for p, letter in zip(ones, one_letters, strict=True):
                    chars[p] = letter
                reading = tuple(_plain_tokens("".join(chars)))
                if reading not in seen:
                    seen.add(reading)
                    readings.append(reading)
                    if len(readings) >= _MAX_RUN_READINGS:
                        return tuple(readings)
    return tuple(readings)


def _middle_options(i: int, j: int) -> list[range | tuple[int, ...]]:
    """Ways to read a group between letters: all as letters, as written, or the characters next
    to the letters on either side or both as letters (``aa414aaaa`` -> aaa, 1, aaaaa)."""
    options: list[range | tuple[int, ...]] = [range(i, j), range(0)]
    length = j - i
    if length > 8:
        return options
    for left in range(length):
        for right in range(length - left):
            if left or right:
                options.append((*range(i, i + left), *range(j - right, j)))
    return options


def _combos(choices: list[list[range | tuple[int, ...]]]) -> Iterator[tuple[range | tuple[int, ...], ...]]:
    """Combinations of options: fewest departures from the first options first, then the options
    listed earlier first."""
    total = 1
    for options in choices:
        total *= len(options)
    if total <= 4096:
        ranked = sorted(
            product(*(range(len(options)) for options in choices)),
            key=lambda ranks: (sum(1 for r in ranks if r), sum(ranks)),
        )
        for ranks in ranked:
            yield tuple(options[r] for options, r in zip(choices, ranks, strict=True))
        return
    base = [options[0] for options in choices]
    for departures in range(len(choices) + 1):
        for points in combinations(range(len(choices)), departures):
            for picks in product(*(choices[p][1:] for p in points)):
                combo = list(base)
                for p, pick in zip(points, picks, strict=True):
                    combo[p] = pick
                yield tuple(combo)


# A text as matching sees it: a list of runs, each a tuple of readings (token tuples, plain first).
# Consecutive tokens: within a reading, and from the last token of a run's reading to the first
# token of every reading of the next run. Without leetspeak the whole text is one run, one reading.
_Runs = list[tuple[tuple[str, ...], ...]]
_Node = tuple[int, int, int]  # (run, reading, token)


def _runs(folded: str) -> _Runs:
    if _LEET_HINT_RE.search(folded) is None:
        toks = tuple(_plain_tokens(folded))
        return [(toks,)] if toks else []
    runs = []
    for run in _RUN_RE.findall(folded):
        readings = _run_readings(run)
        if readings:
            runs.append(readings)
    return runs


def _succ(runs: _Runs, r: int, a: int, t: int) -> tuple[_Node, ...]:
    """The tokens that may follow token t of reading a of run r."""
    if t + 1 < len(runs[r][a]):
        return ((r, a, t + 1),)
    if r + 1 < len(runs):
        return tuple((r + 1, a2, 0) for a2 in range(len(runs[r + 1])))
    return ()


def _letter_stretches(reading: tuple[str, ...]) -> list[list[str]]:
    """The tokens of a reading grouped into stretches of letters (digits separate them)."""
    stretches: list[list[str]] = []
    current: list[str] = []
    for tok in reading:
        if tok.isdigit():
            if current:
                stretches.append(current)
                current = []
        else:
            current.append(tok)
    if current:
        stretches.append(current)
    return stretches


def token_variants(text: str) -> list[tuple[str, tuple[tuple[str, ...], ...]]]:
    """The runs of a text that have leetspeak readings, with all their readings (plain first).

    >>> token_variants("s0r4-v2")
    [('s0r4', (('s', '0', 'r', '4'), ('sora',), ...))]
    """
    folded = _fold(text)
    if _LEET_HINT_RE.search(folded) is None:
        return []
    out = []
    for run in _RUN_RE.findall(folded):
        readings = _run_readings(run)
        if len(run) >= 3 and len(readings) > 1:  # "7B", "Q4", "v1" are read only as written
            out.append((run, readings))
    return out


# ---------------------------------------------------------------------------------------------
# One typo


def _one_typo(cand: str, key: str, spans: tuple[tuple[int, int], ...]) -> tuple[float, str]:
    """Score of `cand` as `key` with one typo, and "" -- or 0.0 and why not."""
    lc, lk = len(cand), len(key)
    if cand == key:
        return 0.0, "identical"
    if abs(lc - lk) > 1:
        return 0.0, "more than one edit"
    shortest = min(lc, lk)
    p = 0
    while p < shortest and cand[p] == key[p]:
        p += 1
    q = 0
    while q < shortest - p and cand[lc - 1 - q] == key[lk - 1 - q]:
        q += 1
    xc, xk = cand[p : lc - q], key[p : lk - q]
    if len(xc) + len(xk) > 2 and not (len(xc) == len(xk) == 2 and xc == xk[::-1]):
        return 0.0, "more than one edit"
    if any(ch.isdigit() for ch in xc + xk):
        return 0.0, "the difference is a digit (digits must match exactly)"
    end = p + len(xk)
    for a, b in spans:
        if a <= p and end <= b:
            return round(1.0 - 1.0 / max(lc, lk), 3), ""
    return 0.0, "the typo falls outside every word of 5+ letters of the term"


def _version_spellings(toks: Sequence[str]) -> list[list[str]]:
    """The other spellings of a term's versions, indexed as keys of the same term: a "v" before a
    version that follows a word, or none before it (``veo-3`` -> ``veo-v3``; ``midjourney-v7`` ->
    ``midjourney-7``). The digits stay as they are."""
    out = []
    for i in range(1, len(toks)):
        if not toks[i].isdigit() or toks[i - 1].isdigit():
            continue
        if toks[i - 1] != "v":
            out.append([*toks[:i], "v", *toks[i:]])
        elif i >= 2 and not toks[i - 2].isdigit():
            out.append([*toks[: i - 1], *toks[i:]])
    return out


def _word_spans(toks: Sequence[str]) -> tuple[tuple[int, int], ...]:
    """Character spans, in the joined key, of the tokens with 5+ letters (where a typo may fall)."""
    spans = []
    pos = 0
    for tok in toks:
        if sum(c.isalpha() for c in tok) >= 5:
            spans.append((pos, pos + len(tok)))
        pos += len(tok)
    return tuple(spans)


# ---------------------------------------------------------------------------------------------
# Texts given to `leakmon match`

_URL_RE = re.compile(r"^https?://[^/]+/(?:(?:spaces|datasets|models)/)?(?P<rest>.*)$", re.IGNORECASE)


def split_text(text: str) -> tuple[str | None, str, str]:
    """(owner, text to match, field) for a TEXT of `leakmon match`.

    A TEXT with a "/" is a repo id: owner and name, field "repo_id" (a Hub URL is accepted too:
    ``https://huggingface.co/spaces/owner/name``). Any other TEXT is a title, field "title".
    """
    stripped = text.strip()
    m = _URL_RE.match(stripped)
    if m and "/" in m["rest"]:
        owner, name = m["rest"].split("/", 2)[:2]
        return owner, name, "repo_id"
    if "/" in stripped:
        owner, name = stripped.split("/", 1)
        return owner, name, "repo_id"
    return None, text, "title"


# ---------------------------------------------------------------------------------------------
# The matcher

_TERM, _FUZZY, _PATTERN, _OWNER = 0, 1, 2, 3
_RULES = ("term", "fuzzy", "pattern", "owner")
# Fields of a repo, in the order matches are reported.
_NAME_F, _OWNER_F, _TITLE_F, _TAGS_F, _BASE_F, _MODELS_F = range(6)
_FIELDS = ("repo_id", "owner", "title", "tags", "base_model", "models")
_TEXT_CACHE_MAX = 1 << 16


def _cacheable(s: str) -> bool:
    """Long numbers (ids, timestamps, counters in spam names) rarely repeat: judging them again is
    cheaper than letting a burst of unique ones fill every cache (tens of MB for 50,000 repos)."""
    return len(s) < 5 or not s.isdigit()


_INFO_CACHE_MAX = 1 << 17
# (watch index, rule, index of the term or pattern in the watch, score)
_Hit = tuple[int, int, int, float]
_Entry = tuple[int, str, list[_Hit]]  # (field, text, hits)
_MAX_TEXT = 500  # characters of a tag or base model id worth reading
_MAX_SEQUENCES = 8  # up to this many leetspeak readings of a text are walked one by one
# Longest part of a key indexed on its own (a misspelt start, the exact rest after a typo, a piece
# a leetspeak reading spells): keeps the index small for long terms; beyond, only whole keys match.
_MAX_PART = 32
# What a candidate string means to a matcher: exact hits, fuzzy hits, is a proper key prefix,
# may be a misspelt start of a fuzzy key.
_Info = tuple[tuple[_Hit, ...], tuple[_Hit, ...], bool, bool]
_NOTHING: _Info = ((), (), False, False)
# What the walks that start in a run (or a run and the next) do, for the fast path: end inside
# without a hit, reach the end still wanting more tokens, may hit, or the run has no tokens.
_CLOSED, _OPEN, _LOUD, _EMPTY = 0, 1, 2, 3
_MAX_WINDOW = 4  # runs judged together at most (a longer window: general path)
# Bytes of ASCII text that end a run (all but letters, digits, @ and $) -> spaces, for
# `bytes.translate` (much faster than `str.translate` or a regex).
_RUN_BREAKS = bytes(c if c < 128 and (chr(c).isalnum() or chr(c) in "@$") else 32 for c in range(256))


class Matcher:
    """All watches compiled into one index. Build once, then call `match_repo` per repo."""

    # Hub listing `expand` fields the matcher reads, apart from createdAt (titles come from cardData).
    required_fields: ClassVar[dict[str, tuple[str, ...]]] = {
        "model": ("author", "cardData", "tags", "baseModels"),
        "dataset": ("author", "cardData", "tags"),
        "space": ("author", "cardData", "tags", "models"),
    }

    def __init__(self, watches: Iterable[WatchConfig], suppressions: Iterable[Suppression] = ()) -> None:
        self.watches: tuple[WatchConfig, ...] = tuple(watches)
        self._text_cache: dict[str, list[_Hit]] = {}
        self._owner_cache: dict[str, list[_Hit]] = {}
        self._compile_filters(suppressions)
        # key or proper prefix of a key -> (hits when the joined tokens equal it, is a proper prefix)
        exact: dict[str, tuple[list[_Hit], bool]] = {}
        # fuzzy key -> (word spans, [(watch, term index)])
        fuzzy: dict[str, tuple[tuple[tuple[int, int], ...], list[tuple[int, int]]]] = {}
        self._term_keys: list[list[tuple[str, tuple[tuple[int, int], ...]]]] = []
        all_keys: set[str] = set()  # the terms' keys and the other spellings of their versions
        self._patterns: list[tuple[int, int, re.Pattern[str]]] = []
        self._ignored: dict[str, set[int]] = {}

        for w, watch in enumerate(self.watches):
            keys = []
            for t, term in enumerate(watch.terms):
                toks = tokens(term) if isinstance(term, str) else []
                if not toks:
                    raise ValueError(f"watch {watch.name!r}: term {term!r} has no letters or digits")
                keys.append(("".join(toks), _word_spans(toks)))
                for spelling in (toks, *_version_spellings(toks)):
                    key = "".join(spelling)
                    spans = _word_spans(spelling)
                    all_keys.add(key)
                    hits, is_prefix = exact.get(key, ([], False))
                    if (w, _TERM, t, 1.0) not in hits:
                        hits.append((w, _TERM, t, 1.0))
                    exact[key] = (hits, is_prefix)
                    for end in range(1, len(key)):
                        hits, _ = exact.get(key[:end], ([], True))
                        exact[key[:end]] = (hits, True)
                    if watch.fuzzy and spans:
                        entries = fuzzy.setdefault(key, (spans, []))[1]
                        if (w, t) not in entries:
                            entries.append((w, t))
            self._term_keys.append(keys)
            for i, pattern in enumerate(watch.patterns):
                try:
                    self._patterns.append((w, i, re.compile(pattern, re.IGNORECASE)))
                except (re.error, TypeError) as exc:
                    raise ValueError(
                        f"watch {watch.name!r}: pattern {pattern!r} is not a valid regular expression: {exc}"
                    ) from exc
            for author in watch.ignore_authors:
                self._ignored.setdefault(author.casefold(), set()).add(w)

        self._exact = {k: (tuple(h), p) for k, (h, p) in exact.items()}
        # Substrings of the keys: a leetspeak reading is kept only if it can be part of a key.
        self._exact_infix = frozenset(
            key[i:j]
            for key in all_keys
            for i in range(len(key))
            for j in range(i + 1, min(len(key), i + _MAX_PART) + 1)
        )
        self._readings_cache: dict[str, tuple[tuple[str, ...], ...]] = {}
        self._max_key_len = max(map(len, all_keys), default=0)

        # Fuzzy: a SymSpell deletion index over the keys (each key and its 1-deletions), and one over
        # the keys' proper prefixes of 2+ characters, which says whether a candidate may be a
        # misspelt start of a key that exact tokens then complete.
        self._fz_keys: list[tuple[str, tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]]] = []
        deletions: dict[str, set[int]] = {}
        prefix_deletions: set[str] = set()
        self._fz_infix: set[str] = set()
        self._fz_suffix: set[str] = set()
        lengths: set[int] = set()
        for kid, (key, (spans, entries)) in enumerate(fuzzy.items()):
            self._fz_keys.append((key, spans, tuple(entries)))
            deletions.setdefault(key, set()).add(kid)
            for i in range(len(key)):
                deletions.setdefault(key[:i] + key[i + 1 :], set()).add(kid)
                if len(key) - i <= _MAX_PART:
                    self._fz_suffix.add(key[i:])
                for j in range(i + 1, min(len(key), i + _MAX_PART) + 1):
                    self._fz_infix.add(key[i:j])
            for end in range(2, min(len(key), _MAX_PART)):
                prefix = key[:end]
                prefix_deletions.add(prefix)
                prefix_deletions.update(prefix[:i] + prefix[i + 1 :] for i in range(end))
            lengths.update((len(key) - 1, len(key), len(key) + 1))
        self._fz_deletions = {d: tuple(sorted(k)) for d, k in deletions.items()}
        self._fz_prefix_deletions = frozenset(prefix_deletions)
        self._fz_lengths = frozenset(lengths)
        self._fz_maxlen = max(lengths, default=0)
        self._info_cache: dict[str, _Info] = {}
        self._run_verdicts: dict[str, int] = {}
        self._closed_runs: set[str] = set()  # the runs judged _CLOSED
        self._open_runs: dict[str, dict[str, int]] = {}  # run judged _OPEN -> next run -> verdict
        self._pairs = 0  # verdicts in _open_runs
        self._window_verdicts: dict[tuple[str, ...], int] = {}

        # Patterns: one combined regex says quickly that none matches (if they combine at all).
        self._pattern_any: re.Pattern[str] | None = None
        if len(self._patterns) > 1:
            try:
                self._pattern_any = re.compile(
                    "|".join(f"(?:{rx.pattern})" for _, _, rx in self._patterns), re.IGNORECASE
                )
            except re.error:  # backreferences, global flags, duplicate group names: test one by one
                self._pattern_any = None

    # -- public API -------------------------------------------------------------------------

    def match_repo(self, repo: Repo) -> list[Match]:
        """Every match of a repo over all watches, in every field the listing gave.

        Suppressed repos (the global allowlist, suppressions) match nothing; watches that ignore
        its owner or author are skipped; a watch's `exclude` patterns drop its matches.
        """
        repo_id = repo.repo_id
        owner, slash, name = repo_id.partition("/")  # as Repo.owner and Repo.name split it, once
        if not slash:
            owner, name = "", repo_id
        if self._any_suppression and self._globally_suppressed(repo_id, owner, repo.author):
            return []
        # `_hits(name)`, with `_quiet` inline for plain names: most names match nothing.
        if self._patterns or not name.isascii() or ".0" in name:
            hits = self._hits(name)
        else:
            runs = name.encode().translate(_RUN_BREAKS).decode().split()
            if self._closed_runs.issuperset(runs) or self._quiet_runs(runs):
                hits = []
            else:
                hits = []
                self._term_hits(name, hits)
        owner_hits = self._owner_cache.get(owner)
        if owner_hits is None:
            owner_hits = self._owner_hits(owner)
        if not (hits or owner_hits or repo.title or repo.tags or repo.base_models or repo.linked_models):
            return []  # the usual case
        entries: list[_Entry] = []
        if hits:
            entries.append((_NAME_F, name, hits))
        if owner_hits:
            entries.append((_OWNER_F, owner, owner_hits))
        if repo.title:
            self._add(entries, _TITLE_F, repo.title, self._hits(repo.title))
        if repo.tags or repo.base_models or repo.linked_models:
            for f, texts in (
                (_TAGS_F, repo.tags),
                (_BASE_F, repo.base_models),
                (_MODELS_F, repo.linked_models),
            ):
                for text in texts:
                    self._add(entries, f, text, self._cached_hits(text))
        if not entries:
            return []
        skip = self._skipped(repo_id, owner, repo.author)
        return [m for _, m in self._assemble_indexed(entries, skip, repo_id)]

    def silenced(self, repo: Repo) -> frozenset[str]:
        """Watches that must not alert on this repo, whatever evidence it holds: the allowlist and
        global suppressions (every watch), ignore_authors, per-watch suppressions, and `exclude`
        patterns that find its repo id. Fingerprint and content matches obey these like names do."""
        repo_id, owner = repo.repo_id, repo.owner
        if self._any_suppression and self._globally_suppressed(repo_id, owner, repo.author):
            return frozenset(w.name for w in self.watches)
        skip = set(self._skipped(repo_id, owner, repo.author))
        skip |= {w for w in self._excludes if self._excluded_any(w, repo_id)}
        return frozenset(self.watches[w].name for w in skip)

    def match_text(self, text: str) -> list[Match]:
        """`leakmon match TEXT`: a TEXT with "/" is a repo id (owner and name matched, owner checked
        against ignore_authors and suppressions); any other TEXT is a title (field "title")."""
        return [m for _, m in self._match_text_indexed(text)]

    def _match_text_indexed(self, text: str) -> list[tuple[int, Match]]:
        owner, target, field = split_text(text)
        entries: list[_Entry] = []
        if field == "repo_id":
            repo_id = f"{owner}/{target}"
            if self._globally_suppressed(repo_id, owner or "", ""):
                return []
            self._add(entries, _NAME_F, target, self._hits(target))
            self._add(entries, _OWNER_F, owner or "", self._owner_hits(owner or ""))
            return self._assemble_indexed(entries, self._skipped(repo_id, owner or "", ""), repo_id)
        self._add(entries, _TITLE_F, target, self._hits(target))
        return self._assemble_indexed(entries, frozenset(), None)

    def explain(self, text: str) -> Explanation:
        """`leakmon match --explain TEXT`: what the matcher saw, and per watch why it matched or not."""
        owner, target, field = split_text(text)
        folded = _fold(target)
        repo_id = f"{owner}/{target}" if field == "repo_id" else None
        suppressed = repo_id is not None and self._globally_suppressed(repo_id, owner or "", "")
        skip = self._skipped(repo_id, owner or "", "") if repo_id else frozenset()
        matches = self._match_text_indexed(text)
        runs = _runs(folded)
        joined = _joins(runs, max_len=self._max_key_len)
        toks = joined | {tok for readings in runs for reading in readings for tok in reading}
        everything = "\n".join(toks)  # tells quickly that a key occurs in none of them
        joins = sorted(joined)
        plain_joins = _joins([readings[:1] for readings in runs], max_len=self._max_key_len)
        watches = []
        for w, watch in enumerate(self.watches):
            mine = tuple(m for i, m in matches if i == w)
            reasons: list[str] = []
            if suppressed:
                reasons.append(f"{repo_id!r} is on the global allowlist or suppressed: nothing matches it")
            elif w in skip:
                reasons.append(
                    f"owner {owner!r} is in ignore_authors, or {repo_id!r} is suppressed for this watch"
                )
            elif not mine and self._excluded_any(w, text):
                reasons.append("a match was dropped by this watch's exclude patterns")
            elif not mine:
                for t, (key, spans) in enumerate(self._term_keys[w]):
                    reasons.append(
                        _why_not(
                            watch.terms[t], key, spans, watch.fuzzy, toks, everything, joins, plain_joins
                        )
                    )
                reasons.extend(f"pattern {p!r} does not match {target!r}" for p in watch.patterns)
            watches.append(WatchExplanation(watch.name, bool(mine), mine, tuple(reasons)))
        return Explanation(
            text=text,
            field=field,
            owner=owner,
            target=target,
            normalised=folded.casefold(),
            tokens=tuple(_plain_tokens(folded)),
            leet=tuple(token_variants(target)),
            watches=tuple(watches),
        )

    # -- internals --------------------------------------------------------------------------

    def _compile_filters(self, suppressions: Iterable[Suppression]) -> None:
        """Owners, excludes and suppressions: everything that decides a repo without its tokens."""
        index = {w.name: i for i, w in enumerate(self.watches)}
        self._owners: dict[str, list[_Hit]] = {}
        self._excludes: dict[int, tuple[re.Pattern[str], ...]] = {}
        for w, watch in enumerate(self.watches):
            for i, owner in enumerate(watch.owners):
                self._owners.setdefault(owner.casefold(), []).append((w, _OWNER, i, 1.0))
            if watch.exclude:
                self._excludes[w] = _compile_all(f"watch {watch.name!r} exclude", watch.exclude)
        # None: every watch.
        self._sup_repos: dict[str, set[int | None]] = {}
        self._sup_owners: dict[str, set[int | None]] = {}
        patterns: dict[int | None, list[str]] = {}
        for sup in suppressions:
            w = None if sup.watch is None else index.get(sup.watch)
            if sup.watch is not None and w is None:
                continue  # a suppression for a watch no longer configured
            if sup.kind == "repo":
                self._sup_repos.setdefault(sup.value.casefold(), set()).add(w)
            elif sup.kind == "owner":
                self._sup_owners.setdefault(sup.value.casefold(), set()).add(w)
            else:
                patterns.setdefault(w, []).append(sup.value)
        self._sup_patterns = {w: _compile_all("suppression", ps) for w, ps in patterns.items()}
        self._any_suppression = bool(self._sup_repos or self._sup_owners or self._sup_patterns)

    def _suppressed_for(self, repo_id: str, owner: str, author: str) -> set[int | None]:
        """Watch indexes (None: all) for which suppressions silence this repo."""
        out: set[int | None] = set()
        if self._sup_repos:
            out |= self._sup_repos.get(repo_id.casefold(), set())
        if self._sup_owners:
            for who in (owner, author):
                if who:
                    out |= self._sup_owners.get(who.casefold(), set())
        for w, regexes in self._sup_patterns.items():
            if w not in out and _found(regexes, repo_id):
                out.add(w)
        return out

    def _globally_suppressed(self, repo_id: str, owner: str, author: str) -> bool:
        if not (self._sup_repos or self._sup_owners or self._sup_patterns):
            return False
        return None in self._suppressed_for(repo_id, owner, author)

    def _skipped(self, repo_id: str, owner: str, author: str) -> set[int] | frozenset[int]:
        """Watches that must not match this repo: ignore_authors and per-watch suppressions."""
        skip: set[int] = set()
        if self._ignored:
            for who in (owner, author):
                if who:
                    skip |= self._ignored.get(who.casefold(), set())
        if self._sup_repos or self._sup_owners or self._sup_patterns:
            skip |= {w for w in self._suppressed_for(repo_id, owner, author) if w is not None}
        return skip if skip else frozenset()

    def _excluded_any(self, w: int, text: str) -> bool:
        regexes = self._excludes.get(w)
        return regexes is not None and _found(regexes, text)

    @staticmethod
    def _add(entries: list[_Entry], field: int, text: str, hits: list[_Hit]) -> None:
        if hits:
            entries.append((field, text, hits))

    def _owner_hits(self, owner: str) -> list[_Hit]:
        """Terms in the owner's name, and the watches that list this owner (cached: owners repeat)."""
        if not owner:
            return []
        hits = self._owner_cache.get(owner)
        if hits is None:
            hits = self._hits(owner[:_MAX_TEXT])
            listed = self._owners.get(owner.casefold())
            if listed:
                hits = hits + listed
            if len(self._owner_cache) >= _TEXT_CACHE_MAX:
                self._owner_cache.clear()
            self._owner_cache[owner] = hits
        return hits

    def _cached_hits(self, text: str) -> list[_Hit]:
        """`_hits` for texts that repeat across repos (owners, tags, base models)."""
        hits = self._text_cache.get(text)
        if hits is None:
            if len(self._text_cache) >= _TEXT_CACHE_MAX:
                self._text_cache.clear()
            hits = self._text_cache[text] = self._hits(text[:_MAX_TEXT])
        return hits

    def _hits(self, text: str) -> list[_Hit]:
        if not text:
            return []
        folded = text if text.isascii() and ".0" not in text else _fold(text)
        out: list[_Hit] = []
        if not self._quiet(folded):
            self._term_hits(folded, out)
        if self._patterns:
            self._pattern_hits(text, folded, out)
        return out

    def _quiet(self, folded: str) -> bool:
        """Fast path: True only when `_term_hits` would find nothing in this folded text.

        Most names match nothing, and their runs repeat across names, so each run is judged once
        (`_walks_verdict`, cached): the walks that start in it end inside it without a hit
        ("closed"), or some reach its end wanting more tokens ("open"), or one may hit. An open run
        is judged again with the run after it (once per pair); when its walks go on past that run
        too, `_quiet_windows` judges the longer window.
        """
        if folded.isascii():  # the same runs as _ASCII_RUN_RE.findall, faster
            runs: list[str] = folded.encode().translate(_RUN_BREAKS).decode().split()
        else:
            runs = _RUN_RE.findall(folded)
        # Usually every walk ends in the run where it starts, without a hit.
        return self._closed_runs.issuperset(runs) or self._quiet_runs(runs)

    def _quiet_runs(self, runs: list[str]) -> bool:
        """`_quiet` for the runs of a text, some of which are not (known to be) closed."""
        closed = self._closed_runs
        previous = ""
        following: dict[str, int] | None = None  # pair verdicts of the previous run, if open
        for run in runs:
            if run in closed:
                if following is None:
                    continue  # the usual case
                pairs = None
            else:
                pairs = self._open_runs.get(run)
                if pairs is None:
                    verdict = self._run_verdicts.get(run)
                    if verdict is None:
                        verdict = self._run_verdict(run)  # a new run
                    if verdict == _LOUD:
                        return False
                    if verdict == _EMPTY:
                        continue  # no tokens: walks go on across it, as in the general path
                    pairs = self._open_runs.get(run)  # None if closed
            if following is not None:
                verdict = following.get(run)
                if verdict is None:
                    verdict = following[run] = self._pair_verdict(previous, run)
                if verdict == _LOUD:
                    return False
                if verdict == _OPEN:  # the walks go on: judge them from the open run on
                    return self._quiet_windows(runs[runs.index(previous) :])
            following = pairs
            previous = run
        return True

    def _quiet_windows(self, runs: list[str]) -> bool:
        """`_quiet` the careful way: after an open run, the window of runs from it on is judged
        until its walks end (cached per window). A window that may hit sends the text to the
        general path, and so does a second open run while a window is still open (rare)."""
        window: tuple[str, ...] = ()  # from an open run to the previous run, while walks go on
        for run in runs:
            verdict = self._run_verdicts.get(run)
            if verdict is None:
                verdict = self._run_verdict(run)
            if verdict == _EMPTY or (verdict == _CLOSED and not window):
                continue  # (a run without tokens is skipped by the general path too)
            if verdict == _LOUD:
                return False
            if window:
                window += (run,)
                still = self._window_verdicts.get(window)
                if still is None:
                    still = self._window_verdict(window)
                if still == _LOUD:
                    return False
                if still == _OPEN:
                    if verdict == _OPEN or len(window) >= _MAX_WINDOW:
                        return False  # two windows, or a long one: rare enough for the general path
                    continue
                window = ()
            if verdict == _OPEN:
                window = (run,)
        return True

    def _run_verdict(self, run: str) -> int:
        readings = self._readings(run)
        verdict = self._walks_verdict([readings]) if readings else _EMPTY
        if not _cacheable(run):
            return verdict
        if len(self._run_verdicts) >= _INFO_CACHE_MAX:
            self._run_verdicts.clear()
            self._closed_runs.clear()
            self._open_runs.clear()
        self._run_verdicts[run] = verdict
        if verdict == _CLOSED:
            self._closed_runs.add(run)
        elif verdict == _OPEN:
            self._open_runs[run] = {}
        return verdict

    def _pair_verdict(self, first: str, second: str) -> int:
        """`_walks_verdict` of an open run and the next (closed or open), for `_quiet`, which
        keeps it in `_open_runs[first]`."""
        self._pairs += 1
        if self._pairs >= _INFO_CACHE_MAX:
            self._pairs = 0
            for pairs in self._open_runs.values():
                pairs.clear()
        return self._walks_verdict([self._readings(first), self._readings(second)])

    def _window_verdict(self, window: tuple[str, ...]) -> int:
        runs = [readings for readings in map(self._readings, window) if readings]
        verdict = self._walks_verdict(runs)
        if len(self._window_verdicts) >= _INFO_CACHE_MAX:
            self._window_verdicts.clear()
        self._window_verdicts[window] = verdict
        return verdict

    def _readings(self, run: str) -> tuple[tuple[str, ...], ...]:
        readings = self._readings_cache.get(run)
        return self._useful_readings(run) if readings is None else readings

    def _walks_verdict(self, runs: _Runs) -> int:
        """What the walks of `_term_hits` that start in the first of these runs do within them:
        _LOUD if one may hit, else _OPEN if one reaches their end wanting more tokens, else
        _CLOSED. As in `_term_hits`, every path through the readings is walked exact, and the path
        of plain readings also fuzzy; when in doubt the answer is _LOUD or _OPEN (general path)."""
        verdict = _CLOSED
        get = self._info_cache.get  # (every _Info is a non-empty tuple, so `or` works)
        for a, reading in enumerate(runs[0]):
            for t, tok in enumerate(reading):
                info = get(tok) or self._info(tok)
                if info is _NOTHING:
                    continue  # most tokens
                stack = [((0, a, t), tok, a == 0, info)]  # node, joined tokens, on the plain path
                while stack:
                    node, s, plain, info = stack.pop()
                    exact, typos, is_prefix, misspelt_start = info
                    if exact or (plain and typos):
                        return _LOUD
                    if plain and misspelt_start:
                        completion = self._completion_verdict(runs, node, s)
                        if completion == _LOUD:
                            return _LOUD
                        verdict = max(verdict, completion)
                    if is_prefix:
                        following = _succ(runs, *node)
                        if not following:
                            verdict = max(verdict, _OPEN)
                        for r2, a2, t2 in following:
                            longer = s + runs[r2][a2][t2]
                            info = get(longer) or self._info(longer)
                            if info is not _NOTHING:
                                stack.append(((r2, a2, t2), longer, plain and a2 == 0, info))
        return verdict

    def _completion_verdict(self, runs: _Runs, node: _Node, s: str) -> int:
        """`_walks_verdict` for `_complete_flat` from `s`, which ends at `node`: on along the plain
        readings."""
        tail = ""
        while True:
            r, a, t = node
            node = (r, a, t + 1) if t + 1 < len(runs[r][a]) else (r + 1, 0, 0)
            if node[0] == len(runs):
                return _OPEN
            tail += runs[node[0]][0][node[2]]
            length = len(s) + len(tail)
            if tail not in self._fz_infix or length > self._fz_maxlen:
                return _CLOSED
            if tail in self._fz_suffix and length in self._fz_lengths and self._info_of(s + tail)[1]:
                return _LOUD

    def _info_of(self, s: str) -> _Info:
        info = self._info_cache.get(s)
        return self._info(s) if info is None else info

    def _term_hits(self, folded: str, out: list[_Hit]) -> None:
        """The general path: term and fuzzy hits in a folded text."""
        if _LEET_HINT_RE.search(folded) is None:
            toks = _plain_tokens(folded)
            if toks:
                self._walk_flat(toks, out, True)
        else:
            runs = []
            combinations = 1
            for run in (_ASCII_RUN_RE if folded.isascii() else _RUN_RE).findall(folded):
                readings = self._readings_cache.get(run)
                if readings is None:
                    readings = self._useful_readings(run)
                if readings:
                    runs.append(readings)
                    combinations *= len(readings)
            if runs:
                # The plain reading, exact and fuzzy; leetspeak readings, exact only (a typo on top
                # of leetspeak could turn a version digit into a letter and then drop it).
                self._walk_flat([tok for readings in runs for tok in readings[0]], out, True)
                if 1 < combinations <= _MAX_SEQUENCES:  # a few token sequences: walk each one
                    for combo in islice(product(*runs), 1, None):
                        self._walk_flat([tok for reading in combo for tok in reading], out, False)
                elif combinations > _MAX_SEQUENCES:
                    self._walk(runs, out)

    def _useful_readings(self, run: str) -> tuple[tuple[str, ...], ...]:
        """The readings of a run worth walking for these watches (cached): the plain one, and the
        leetspeak readings that spell a new stretch of letters holding part of a key of 3+
        characters. Runs of 1-2 characters ("7B", "Q4", "v1": sizes, versions) are read as written."""
        readings = _run_readings(run) if _cacheable(run) else _run_readings.__wrapped__(run)
        if len(run) < 3:
            readings = readings[:1]
        elif len(readings) > 1:
            plain_stretches = [tuple(s) for s in _letter_stretches(readings[0])]
            useful = [readings[0]]
            for reading in readings[1:]:
                unchanged = list(plain_stretches)
                for stretch in map(tuple, _letter_stretches(reading)):
                    if stretch in unchanged:
                        unchanged.remove(stretch)
                    elif self._spells_part_of_a_key(stretch):
                        useful.append(reading)
                        break
            readings = tuple(useful)
        if _cacheable(run):
            if len(self._readings_cache) >= _INFO_CACHE_MAX:
                self._readings_cache.clear()
            self._readings_cache[run] = readings
        return readings

    def _spells_part_of_a_key(self, stretch: tuple[str, ...]) -> bool:
        """Whether consecutive tokens of a stretch spell 3+ characters of some key."""
        for i in range(len(stretch)):
            joined = ""
            for tok in stretch[i:]:
                joined += tok
                if len(joined) >= 3 and joined in self._exact_infix:
                    return True
                if len(joined) > self._max_key_len:
                    break
        return False

    def _walk_flat(self, toks: list[str], out: list[_Hit], fuzzy: bool) -> None:
        """Every token as the start of a candidate; then the tokens after it while they spell a key
        prefix. The common case is one cache lookup per token."""
        get = self._info_cache.get
        n = len(toks)
        for i in range(n):
            tok = toks[i]
            info = get(tok)
            if info is _NOTHING:
                continue
            if info is None:
                info = self._info(tok)
                if info is _NOTHING:
                    continue
            exact, typos, is_prefix, misspelt_start = info
            if exact:
                out.extend(exact)
            if fuzzy:
                if typos:
                    out.extend(typos)
                if misspelt_start:
                    self._complete_flat(toks, i, tok, out)
            s = tok
            j = i + 1
            while is_prefix and j < n:
                tok = toks[j]
                s += tok
                info = get(s)
                if info is None:
                    info = self._info(s)
                exact, typos, is_prefix, misspelt_start = info
                if exact:
                    out.extend(exact)
                if fuzzy:
                    if typos:
                        out.extend(typos)
                    if misspelt_start and not tok.isdigit():
                        self._complete_flat(toks, j, s, out)
                j += 1

    def _complete_flat(self, toks: list[str], j: int, s: str, out: list[_Hit]) -> None:
        """`s` (ending at token j) may be a misspelt start of a fuzzy key: try exact tokens after it
        that spell the rest."""
        tail = ""
        for k in range(j + 1, len(toks)):
            tail += toks[k]
            length = len(s) + len(tail)
            if tail not in self._fz_infix or length > self._fz_maxlen:
                return
            if tail in self._fz_suffix and length in self._fz_lengths:
                cand = s + tail
                info = self._info_cache.get(cand)
                if info is None:
                    info = self._info(cand)
                if info[1]:
                    out.extend(info[1])

    def _walk(self, runs: _Runs, out: list[_Hit]) -> None:
        """Exact matching over the whole lattice of readings (texts with many leetspeak readings)."""
        get = self._info_cache.get
        for r, readings in enumerate(runs):
            for a, reading in enumerate(readings):
                for t, tok in enumerate(reading):
                    info = get(tok)
                    if info is None:
                        info = self._info(tok)
                    if info[0]:
                        out.extend(info[0])
                    if not info[2]:
                        continue
                    stack = [((r, a, t), tok)]
                    while stack:
                        node, prefix = stack.pop()
                        for nxt in _succ(runs, *node):
                            s = prefix + runs[nxt[0]][nxt[1]][nxt[2]]
                            info = get(s)
                            if info is None:
                                info = self._info(s)
                            if info[0]:
                                out.extend(info[0])
                            if info[2]:
                                stack.append((nxt, s))

    def _info(self, s: str) -> _Info:
        """What a candidate string means to this matcher (cached): its exact hits, its fuzzy hits,
        whether it is a proper prefix of a key, whether it may be a misspelt start of a fuzzy key."""
        exact_info = self._exact.get(s)
        exact = exact_info[0] if exact_info else ()
        is_prefix = exact_info[1] if exact_info else False
        typos: tuple[_Hit, ...] = ()
        misspelt_start = False
        n = len(s)
        if self._fz_keys and n <= self._fz_maxlen:
            dels = [s[:i] + s[i + 1 :] for i in range(n)]
            if n in self._fz_lengths:
                typos = self._fuzzy_hits(s, dels)
            if n >= 4 and not s.isdigit():
                pd = self._fz_prefix_deletions
                misspelt_start = s in pd or any(d in pd for d in dels)
        if exact or typos or is_prefix or misspelt_start:
            info = (exact, typos, is_prefix, misspelt_start)
        else:
            info = _NOTHING
        if _cacheable(s):
            if len(self._info_cache) >= _INFO_CACHE_MAX:
                self._info_cache.clear()
            self._info_cache[s] = info
        return info

    def _fuzzy_hits(self, cand: str, dels: list[str]) -> tuple[_Hit, ...]:
        get = self._fz_deletions.get
        kids: set[int] = set()
        for d in (cand, *dels):
            hit = get(d)
            if hit:
                kids.update(hit)
        if not kids:
            return ()
        found: list[_Hit] = []
        for kid in sorted(kids):
            key, spans, entries = self._fz_keys[kid]
            score, _ = _one_typo(cand, key, spans)
            if score:
                found.extend((w, _FUZZY, t, score) for w, t in entries)
        return tuple(found)

    def _pattern_hits(self, text: str, folded: str, out: list[_Hit]) -> None:
        texts = (text,) if folded == text else (text, folded)
        if self._pattern_any is not None and not any(self._pattern_any.search(x) for x in texts):
            return
        for w, i, rx in self._patterns:
            if any(rx.search(x) for x in texts):
                out.append((w, _PATTERN, i, 1.0))

    def _assemble_indexed(
        self, entries: list[_Entry], skip: set[int] | frozenset[int], repo_id: str | None
    ) -> list[tuple[int, Match]]:
        """Hits -> Match records, deduplicated and ordered, each with its watch's index.

        A watch's `exclude` patterns drop its matches whose text, or the repo id, they find.
        """
        best: dict[tuple[int, int, int, int], tuple[float, str]] = {}
        excluded: dict[tuple[int, str], bool] = {}
        for f, text, hits in entries:
            for w, rule, item, score in hits:
                if w in skip:
                    continue
                if w in self._excludes:
                    key = (w, text)
                    if key not in excluded:
                        excluded[key] = self._excluded_any(w, text) or (
                            repo_id is not None and self._excluded_any(w, repo_id)
                        )
                    if excluded[key]:
                        continue
                k = (w, f, rule, item)
                if k not in best or best[k][0] < score:
                    best[k] = (score, text)
        matches = []
        for (w, f, rule, item), (score, text) in sorted(best.items()):
            if rule == _FUZZY and (w, f, _TERM, item) in best:
                continue  # exact beats fuzzy for the same term
            watch = self.watches[w]
            term = (watch.terms, watch.terms, watch.patterns, watch.owners)[rule][item]
            matches.append(
                (
                    w,
                    Match(
                        watch=watch.name,
                        rule=_RULES[rule],
                        field=_FIELDS[f],
                        term=term,
                        text=text,
                        score=score,
                    ),
                )
            )
        return matches


# ---------------------------------------------------------------------------------------------
# Explanations


@dataclass(frozen=True, slots=True)
class WatchExplanation:
    watch: str
    matched: bool
    matches: tuple[Match, ...]
    reasons: tuple[str, ...]  # why it did not match (one line per term and pattern), or why skipped

    def as_dict(self) -> dict[str, Any]:
        return {
            "watch": self.watch,
            "matched": self.matched,
            "matches": [m.as_dict() for m in self.matches],
            "reasons": list(self.reasons),
        }


@dataclass(frozen=True, slots=True)
class Explanation:
    text: str  # the TEXT as given
    field: str  # "repo_id" | "title"
    owner: str | None  # for a repo id
    target: str  # what was matched: the repo name, or the title
    normalised: str
    tokens: tuple[str, ...]  # plain tokens
    leet: tuple[tuple[str, tuple[tuple[str, ...], ...]], ...]  # runs with leetspeak readings
    watches: tuple[WatchExplanation, ...]

    @property
    def matched(self) -> bool:
        return any(w.matched for w in self.watches)

    def as_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "field": self.field,
            "owner": self.owner,
            "target": self.target,
            "normalised": self.normalised,
            "tokens": list(self.tokens),
            "leet": [{"run": run, "readings": [list(r) for r in rs]} for run, rs in self.leet],
            "watches": [w.as_dict() for w in self.watches],
        }

    def lines(self) -> list[str]:
        if self.field == "repo_id":
            head = f"{self.text!r}: repo id, owner {self.owner!r}, name {self.target!r} (field repo_id)"
        else:
            head = f"{self.text!r}: title (field title)"
        out = [head, f"  normalised: {self.normalised!r}", f"  tokens: {' '.join(self.tokens) or '(none)'}"]
        for run, readings in self.leet:
            shown = " | ".join(" ".join(r) for r in readings)
            out.append(f"  leetspeak: {run!r} reads as {shown}")
        for w in self.watches:
            out.append(f"  watch {w.watch!r}: {'MATCH' if w.matched else 'no match'}")
            for m in w.matches:
                out.append(f"    {m.rule} {m.term!r} in {m.field} {m.text!r} (score {m.score})")
            out.extend(f"    {reason}" for reason in w.reasons)
        return out


def _joins(runs: _Runs, max_len: int) -> set[str]:
    """Runs of consecutive tokens, joined, up to `max_len` + 2 characters (for explanations)."""
    limit = max_len + 2
    out: set[str] = set()
    starts = [
        (r, a, t) for r, rs in enumerate(runs) for a, reading in enumerate(rs) for t in range(len(reading))
    ]
    for node in starts[:2000]:
        stack = [(node, runs[node[0]][node[1]][node[2]])]
        while stack and len(out) < 20_000:
            node, s = stack.pop()
            out.add(s)
            for nxt in _succ(runs, *node):
                tok = runs[nxt[0]][nxt[1]][nxt[2]]
                if len(s) + len(tok) <= limit:
                    stack.append((nxt, s + tok))
    return out


def _why_not(
    term: str,
    key: str,
    spans: tuple[tuple[int, int], ...],
    fuzzy: bool,
    toks: set[str],
    everything: str,
    joins: list[str],
    plain_joins: set[str],
) -> str:
    """One line: why a term did not match a text. `toks`: its tokens and joins of tokens, and
    `everything` the same joined by newlines; `joins`: joins of up to the longest key + 2
    characters; `plain_joins`: those of the plain reading."""
    parts = [f"term {term!r}: no token or run of adjacent tokens spells {key!r}"]
    inside = []
    if key in everything:
        inside = sorted((t for t in toks if key in t and t != key), key=lambda t: (len(t), t))
    if inside:
        parts.append(f"{key!r} occurs only inside the longer word {inside[0]!r}")
    best = None
    best_rank = (3, 0, "")
    for cand, distance, _ in process.extract(
        key, joins, scorer=DamerauLevenshtein.distance, score_cutoff=2, limit=None
    ):
        rank = (distance, abs(len(cand) - len(key)), cand)
        if cand != key and rank < best_rank:
            best, best_rank = cand, rank
    if best is not None and best_rank[0] == 2 and not inside:
        parts.append(f"nearest: {best!r} (2 edits; fuzzy allows one)")
    elif best is not None and best_rank[0] == 1:
        _, why = _one_typo(best, key, ((0, len(key)),))
        if not why:
            if not fuzzy:
                why = "fuzzy matching is off for this watch"
            elif not spans:
                why = "fuzzy needs a word of 5+ letters in the term"
            else:
                _, why = _one_typo(best, key, spans)
        if not why and best not in plain_joins:
            why = "fuzzy reads the text as written, not its leetspeak readings"
        elif not why:  # a typo across tokens, or in the first 1-3 characters before more tokens
            why = "the typo is not inside one token of 4+ characters"
        parts.append(f"nearest: {best!r} (1 edit: {why})")
    return "; ".join(parts)


def _compile_all(owner: str, patterns: Sequence[str]) -> tuple[re.Pattern[str], ...]:
    """Case-insensitive regexes; ValueError names the bad one."""
    compiled = []
    for pattern in patterns:
        try:
            compiled.append(re.compile(pattern, re.IGNORECASE))
        except (re.error, TypeError) as exc:
            raise ValueError(
                f"{owner}: pattern {pattern!r} is not a valid regular expression: {exc}"
            ) from exc
    return tuple(compiled)


def _found(regexes: tuple[re.Pattern[str], ...], text: str) -> bool:
    return any(rx.search(text) for rx in regexes)
