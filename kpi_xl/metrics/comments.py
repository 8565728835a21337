"""What customers say: themes of open comments by NPS group, and comment sentiment.

Text processing comes from maintained packages whose data ships inside them (nothing is
downloaded at run time):

* English and German: words are runs of letters (apostrophes inside a word kept), casefolded,
  reduced to their Snowball stem (``snowballstemmer``: Porter2 for English, the German Snowball
  stemmer), so "delivery" and "deliveries" are one term; a term is shown in its most frequent
  written form.
* Traditional Chinese: segmented into words by ``jieba`` (its dictionary plus its HMM for unknown
  words, which handles Traditional characters).
* Stop words: English from the ``stopwords`` package (the Snowball list); German and Chinese
  from ``stop-words`` (the Chinese list converted to Traditional characters with ``opencc``).
  Negations ("not", "no", "nicht", "kein", 不, 沒) are kept as words: in feedback they carry
  the theme ("not working").
* Sentiment: VADER (``vaderSentiment``; Hutto & Gilbert 2014), an English lexicon.

A comment's language is given (``"en"``, ``"de"``, ``"zh-Hant"``) or guessed per comment
(``"auto"``): Chinese when it has CJK characters, else German when it holds more German than
English stop words (or letters ä, ö, ü, ß), else English.
"""

from __future__ import annotations

import functools
import logging
import math
import re
from collections import Counter
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from ._clean import OnInvalid, _as_1d, _blank_mask, clean_dates, clean_scores
from ._errors import KpiInputError
from ._intervals import check_confidence, wilson_interval
from ._labels import group_labels

__all__ = [
    "log_likelihood_g2",
    "comment_terms",
    "comment_themes",
    "comment_sentiment",
    "sentiment_scores",
    "nps_groups",
    "LANGUAGES",
]

Language = Literal["auto", "en", "de", "zh-Hant"]

#: The languages comments are analysed in; ``"auto"`` guesses one per comment.
LANGUAGES = ("auto", "en", "de", "zh-Hant")

GROUPS = ("detractor", "passive", "promoter")

_NEGATIONS = {
    "en": {"not", "no", "nor", "never", "cannot", "can't", "don't", "doesn't", "didn't", "isn't", "wasn't",
           "won't", "wouldn't", "couldn't", "shouldn't", "aren't", "weren't", "haven't", "hasn't", "hadn't"},
    "de": {"nicht", "kein", "keine", "nein", "nie"},
    "zh-Hant": {"不", "沒", "没", "無", "无"},
}  # fmt: skip
# A word: letters, joined by an apostrophe or a hyphen ("don't", "E-Mails", "follow-up" are one word:
# split, "E-Mails" would give the theme "e").
_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_ZH_WORD = re.compile(r"^(?:[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[^\W\d_]+)$")
_GERMAN_LETTERS = re.compile(r"[äöüßÄÖÜ]")


@functools.cache
def _stop_words(language: str) -> frozenset[str]:
    if language == "en":
        # The Snowball English list: short, it keeps evaluative words ("good", "problem") that the
        # longer web lists drop, and those are what themes are made of.
        from stopwords import get_stopwords

        words = set(get_stopwords("english"))
    else:
        from stop_words import get_stop_words

        if language == "de":
            words = set(get_stop_words("de"))
        else:
            import opencc

            simplified = get_stop_words("zh")
            to_traditional = opencc.OpenCC("s2t")
            words = set(simplified) | {to_traditional.convert(w) for w in simplified}
    return frozenset(w.casefold() for w in words if w) - _NEGATIONS[language]


@functools.cache
def _stemmer(language: str) -> Any:
    import snowballstemmer

    return snowballstemmer.stemmer("english" if language == "en" else "german")


@functools.cache
def _stem(language: str) -> Any:
    """The language's Snowball stem of one word, remembered: comments repeat a few thousand words,
    and the pure-Python stemmer was most of the time of the themes over 100,000 comments."""
    return functools.lru_cache(maxsize=1 << 16)(_stemmer(language).stemWord)


@functools.cache
def _jieba() -> Any:
    import jieba

    # jieba logs the building of its dictionary index at INFO on first use; that is not news to a user.
    jieba.setLogLevel(logging.WARNING)
    return jieba


def _guess_language(text: str) -> str:
    if _CJK.search(text):
        return "zh-Hant"
    words = [w.casefold() for w in _WORD.findall(text)]
    de = sum(w in _stop_words("de") for w in words)
    en = sum(w in _stop_words("en") for w in words)
    if de > en or (de == en and _GERMAN_LETTERS.search(text)):
        return "de"
    return "en"


def _tokens(text: str, language: str) -> list[tuple[str, str] | None]:
    """``(key, written form)`` per word in order; ``None`` where a stop word or punctuation breaks the
    sequence (two-word phrases are taken from neighbouring words only)."""
    out: list[tuple[str, str] | None] = []
    if language == "zh-Hant":
        stop = _stop_words(language)
        for piece in _jieba().lcut(text):
            word = piece.strip().casefold()
            if not word or not _ZH_WORD.match(word) or word in stop:
                out.append(None)
            else:
                out.append((word, word))
        return out
    stop = _stop_words(language)
    stem = _stem(language)
    pos = 0
    for m in _WORD.finditer(text):
        # Punctuation between two words ends a phrase: "slow. Support" is not the phrase "slow support".
        if pos and re.search(r"[.,;:!?()\[\]\"/|\-–—]", text[pos : m.start()]):
            out.append(None)
        pos = m.end()
        word = m.group().casefold().replace("’", "'")
        out.append(None if word in stop else (stem(word), word))
    return out


def comment_terms(text: str, language: Language = "auto") -> list[str]:
    """The terms (words and two-word phrases, as base forms) one comment contributes to the themes.

    Words are reduced to their base form (Snowball stem for English and German; jieba's words for
    Chinese); stop words are left out; a phrase is two neighbouring words with no stop word or
    punctuation between them. Each term is counted once per occurrence.

    >>> comment_terms("Delivery was slow. Deliveries are always late!", "en")
    ['deliveri', 'slow', 'deliveri', 'alway', 'late', 'alway late']
    >>> comment_terms("Die Lieferung kam nicht", "de")
    ['liefer', 'kam', 'nicht', 'liefer kam', 'kam nicht']
    """
    _check_language(language)
    lang = _guess_language(text) if language == "auto" else language
    toks = _tokens(text, lang)
    words = [t[0] for t in toks if t is not None]
    sep = "" if lang == "zh-Hant" else " "
    pairs = [
        a[0] + sep + b[0] for a, b in zip(toks, toks[1:], strict=False) if a is not None and b is not None
    ]
    return words + pairs


def _check_language(language: str) -> None:
    if language not in LANGUAGES:
        raise KpiInputError(
            f"language must be one of {', '.join(LANGUAGES)}, got {language!r}", argument="language"
        )


def log_likelihood_g2(a: Any, b: Any, c: Any, d: Any) -> np.ndarray:
    r"""Log-likelihood keyness G2 of a term used ``a`` times in a corpus of ``c`` words and ``b``
    times in a reference corpus of ``d`` words.

    .. math::

        E_1 = c\frac{a+b}{c+d}, \quad E_2 = d\frac{a+b}{c+d}, \quad
        G^2 = 2\left(a \ln\frac{a}{E_1} + b \ln\frac{b}{E_2}\right)

    with :math:`0 \ln 0 = 0`. Under the hypothesis of equal relative frequency G2 is approximately
    chi-squared with 1 degree of freedom: 3.84 is p < 0.05, 6.63 p < 0.01, 10.83 p < 0.001.

    References
    ----------
    Dunning, T. (1993). Accurate methods for the statistics of surprise and coincidence.
    Computational Linguistics 19(1), 61-74. Rayson, P. & Garside, R. (2000). Comparing corpora
    using frequency profiling. Proceedings of the Workshop on Comparing Corpora (ACL), 1-6
    (the two-cell form above, as in Rayson's log-likelihood calculator).

    Examples
    --------
    10 uses in 1,000 words against 5 in 1,000: E1 = E2 = 7.5,
    G2 = 2(10 ln(10/7.5) + 5 ln(5/7.5)) = 1.699.

    >>> float(log_likelihood_g2(10, 5, 1000, 1000).round(3))
    1.699
    """
    a, b, c, d = (np.asarray(x, dtype=np.float64) for x in (a, b, c, d))
    total = c + d
    with np.errstate(divide="ignore", invalid="ignore"):
        e1 = c * (a + b) / total
        e2 = d * (a + b) / total
        t1 = np.where(a > 0, a * np.log(a / e1), 0.0)
        t2 = np.where(b > 0, b * np.log(b / e2), 0.0)
    return 2.0 * (t1 + t2)


def nps_groups(
    scores: Any, *, promoter_min: int = 9, detractor_max: int = 6, on_invalid: OnInvalid = "raise"
) -> np.ndarray:
    """NPS group per answer: ``"detractor"`` (0..detractor_max), ``"passive"``, ``"promoter"``
    (promoter_min..10), ``None`` where the score is blank (or invalid and dropped).

    >>> nps_groups([10, 7, 3, None]).tolist()
    ['promoter', 'passive', 'detractor', None]
    """
    cleaned = clean_scores(scores, scale=(0, 10), on_invalid=on_invalid, argument="scores")
    x = np.full(cleaned.mask.shape, np.nan)
    x[cleaned.mask] = cleaned.values
    out = np.full(x.shape, None, dtype=object)
    out[x <= detractor_max] = "detractor"
    out[(x > detractor_max) & (x < promoter_min)] = "passive"
    out[x >= promoter_min] = "promoter"
    return out


def _texts(comments: Any) -> tuple[np.ndarray, np.ndarray]:
    arr = _as_1d(comments, "comments")
    blank = _blank_mask(arr)
    texts = np.array(["" if b else str(v) for v, b in zip(arr, blank, strict=True)], dtype=object)
    return texts, blank


def _by_labels(
    n: int, segments: Any, dates: Any, on_invalid: OnInvalid
) -> tuple[list[str], np.ndarray, list[str]]:
    """The columns a theme table is split by and one combined group code per row."""
    columns: list[str] = []
    parts: list[np.ndarray] = []
    if segments is not None:
        codes, names = group_labels(_as_1d(segments, "segments"))
        _same_length(n, codes.size, "segments")
        parts.append(np.asarray(names, dtype=object)[codes])
        columns.append("segment")
    if dates is not None:
        when, blank = clean_dates(dates, argument="dates", on_invalid=on_invalid)
        _same_length(n, when.size, "dates")
        month = pd.Series(when).dt.strftime("%Y-%m").to_numpy(dtype=object)
        month[blank] = "(no date)"
        parts.append(month)
        columns.append("month")
    if not parts:
        return columns, np.zeros(n, dtype=np.int64), []
    keys = pd.MultiIndex.from_arrays(parts) if len(parts) > 1 else pd.Index(parts[0])
    codes, uniques = pd.factorize(keys, sort=True)
    return columns, codes.astype(np.int64), list(uniques)


def _same_length(n: int, m: int, argument: str) -> None:
    if n != m:
        raise KpiInputError(
            f"{argument} has {m} values but comments has {n}; give one per comment", argument=argument
        )


def comment_themes(
    comments: Any,
    scores: Any,
    *,
    segments: Any = None,
    dates: Any = None,
    language: Language = "auto",
    top: int = 10,
    min_count: int = 3,
    min_g2: float = 3.84,
    examples: int = 3,
    promoter_min: int = 9,
    detractor_max: int = 6,
    on_invalid: OnInvalid = "raise",
) -> pd.DataFrame:
    r"""Themes of open comments: the words and two-word phrases distinctively frequent among
    detractors, passives and promoters, each group against the other two.

    For each group and term (a word's base form, or two neighbouring words; see
    :func:`comment_terms`), with *a* its uses in the group's comments, *c* the group's words
    (phrases: the group's phrases), *b* and *d* the same in the other groups' comments, the
    keyness is the log-likelihood G2 of :func:`log_likelihood_g2`. A term is a theme of the group
    when it is used relatively more there (a/c > b/d), at least ``min_count`` times, with
    G2 >= ``min_g2``; the ``top`` themes by G2 are listed per group. With many terms tested, a
    stricter ``min_g2`` (10.83 for p < 0.001, 15.13 for p < 0.0001, as Rayson recommends for
    large corpora) keeps chance findings out.

    Parameters
    ----------
    comments:
        Open answers, one per response; blank comments are skipped.
    scores:
        The 0-10 likelihood-to-recommend score of each response; rows with a blank score skipped.
    segments, dates:
        Optional segment label or response date per comment: the table is then computed within
        each segment (labels grouped by the label policy; blanks form "(blank)") and/or calendar
        month ("YYYY-MM").
    language:
        ``"en"``, ``"de"``, ``"zh-Hant"`` or ``"auto"`` (default; guessed per comment).
    top, min_count, min_g2:
        Themes kept per group and the thresholds above.
    examples:
        Verbatim comments shown per theme (the first distinct ones in input order that contain it).
    promoter_min, detractor_max, on_invalid:
        As in :func:`kpi_xl.metrics.nps`.

    Returns
    -------
    DataFrame
        One row per theme: [``segment``], [``month``], ``group``, ``theme`` (most frequent
        written form), ``words`` (1 or 2), ``count`` (uses in the group), ``count_others``,
        ``comments`` (group comments containing it), ``share_comments`` (of the group's comments),
        ``share_comments_others``, ``g2``, ``p_value`` (chi-squared, 1 df), ``log_ratio``
        (log2 of the ratio of relative frequencies, 0.5 added to a zero count; Hardie 2014) and
        ``example_1`` .. ``example_k``. ``attrs`` holds ``n_comments`` per group, the rows
        skipped and the languages seen.

    References
    ----------
    Rayson & Garside (2000); Dunning (1993), see :func:`log_likelihood_g2`. Hardie, A. (2014).
    Log Ratio: an informal introduction. ESRC Centre for Corpus Approaches to Social Science.

    Examples
    --------
    >>> c = ["slow delivery", "slow delivery again", "very slow delivery", "great staff",
    ...      "great staff and fast", "friendly staff, great", "ok"]
    >>> t = comment_themes(c, [2, 3, 1, 10, 9, 10, 7], language="en", min_count=2, min_g2=0)
    >>> t.loc[t.group == "detractor", ["theme", "count", "comments"]].values.tolist()[:2]
    [['slow', 3, 3], ['delivery', 3, 3]]
    """
    _check_language(language)
    if top < 1 or min_count < 1 or examples < 0:
        raise KpiInputError("top and min_count must be 1 or more, examples 0 or more", argument="top")
    texts, blank_text = _texts(comments)
    groups = nps_groups(scores, promoter_min=promoter_min, detractor_max=detractor_max, on_invalid=on_invalid)
    _same_length(texts.size, groups.size, "scores")
    by_columns, by_codes, by_names = _by_labels(texts.size, segments, dates, on_invalid)
    keep = ~blank_text & (groups != None)  # noqa: E711 - elementwise comparison on an object array
    rows_idx = np.flatnonzero(keep)

    # One pass over the comments: each term gets an integer id; occurrences become parallel arrays.
    term_id: dict[str, int] = {}
    forms: list[Counter[str]] = []
    words_of: list[int] = []
    occ_row: list[int] = []
    occ_term: list[int] = []
    langs: Counter[str] = Counter()
    for row in rows_idx:
        text = texts[row]
        lang = _guess_language(text) if language == "auto" else language
        langs[lang] += 1
        toks = _tokens(text, lang)
        sep = "" if lang == "zh-Hant" else " "
        items = [(t[0], t[1], 1) for t in toks if t is not None]
        items += [
            (a[0] + sep + b[0], a[1] + sep + b[1], 2)
            for a, b in zip(toks, toks[1:], strict=False)
            if a is not None and b is not None
        ]
        for key, form, n_words in items:
            tid = term_id.get(key)
            if tid is None:
                tid = term_id[key] = len(forms)
                forms.append(Counter())
                words_of.append(n_words)
            forms[tid][form] += 1
            occ_row.append(row)
            occ_term.append(tid)
    n_terms = len(forms)
    occ_row_a = np.asarray(occ_row, dtype=np.int64)
    occ_term_a = np.asarray(occ_term, dtype=np.int64)
    words_a = np.asarray(words_of, dtype=np.int64)
    shown = [f.most_common(1)[0][0] for f in forms]
    group_code = pd.Categorical(groups, categories=GROUPS).codes.astype(np.int64)

    out_rows: list[dict[str, Any]] = []
    n_comments: dict[str, dict[str, int]] = {}
    for b_code in range(max(len(by_names), 1)):
        in_by = keep & (by_codes == b_code)
        label = by_names[b_code] if by_names else None
        label_parts = (label if isinstance(label, tuple) else (label,)) if by_columns else ()
        occ_mask = in_by[occ_row_a]
        o_rows, o_terms = occ_row_a[occ_mask], occ_term_a[occ_mask]
        o_groups = group_code[o_rows]
        # uses[g, t]: occurrences; docs[g, t]: comments containing the term at least once.
        uses = np.zeros((3, n_terms), dtype=np.int64)
        np.add.at(uses, (o_groups, o_terms), 1)
        pair = np.unique(o_rows * max(n_terms, 1) + o_terms)
        docs = np.zeros((3, n_terms), dtype=np.int64)
        np.add.at(docs, (group_code[pair // max(n_terms, 1)], pair % max(n_terms, 1)), 1)
        n_docs = np.bincount(group_code[in_by], minlength=3)
        n_comments[" / ".join(str(p) for p in label_parts) or "all"] = dict(
            zip(GROUPS, n_docs.tolist(), strict=True)
        )
        for g, gname in enumerate(GROUPS):
            if n_docs[g] == 0:
                continue
            a = uses[g]
            b = uses.sum(axis=0) - a
            # Corpus sizes per term length: words are compared with words, phrases with phrases.
            c = np.array([a[words_a == k].sum() for k in (1, 2)])[words_a - 1]
            d = np.array([b[words_a == k].sum() for k in (1, 2)])[words_a - 1]
            with np.errstate(divide="ignore", invalid="ignore"):
                over = (d == 0) | (a * d > b * c)
            g2 = log_likelihood_g2(a, b, c, d)
            ok = over & (a >= min_count) & (g2 >= min_g2) & (c > 0)
            order = np.flatnonzero(ok)[np.argsort(-g2[ok], kind="stable")][:top]
            others = n_docs.sum() - n_docs[g]
            for t in order:
                row = dict(zip(by_columns, label_parts, strict=True))
                row.update(
                    group=gname,
                    theme=shown[t],
                    words=int(words_a[t]),
                    count=int(a[t]),
                    count_others=int(b[t]),
                    comments=int(docs[g, t]),
                    share_comments=float(docs[g, t] / n_docs[g]),
                    share_comments_others=(
                        float((docs[:, t].sum() - docs[g, t]) / others) if others else math.nan
                    ),
                    g2=float(g2[t]),
                    p_value=float(stats.chi2.sf(g2[t], 1)),
                    log_ratio=_log_ratio(a[t], b[t], c[t], d[t]),
                )
                hits = o_rows[(o_terms == t) & (o_groups == g)]
                # Distinct texts: the same short comment written twice is one example.
                shown_examples = list(dict.fromkeys(texts[hits].tolist()))[:examples]
                for k in range(examples):
                    row[f"example_{k + 1}"] = shown_examples[k] if k < len(shown_examples) else ""
                out_rows.append(row)
    columns = by_columns + [
        "group", "theme", "words", "count", "count_others", "comments", "share_comments",
        "share_comments_others", "g2", "p_value", "log_ratio",
    ] + [f"example_{k + 1}" for k in range(examples)]  # fmt: skip
    table = pd.DataFrame(out_rows, columns=columns)
    table.attrs["n_comments"] = n_comments
    table.attrs["n_skipped"] = int(texts.size - keep.sum())
    table.attrs["languages"] = dict(langs)
    return table


def _log_ratio(a: float, b: float, c: float, d: float) -> float:
    if d == 0:
        return math.inf
    return math.log2((max(a, 0.5) / c) / (max(b, 0.5) / d))


@functools.cache
def _vader() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def sentiment_scores(comments: Any, *, language: Language = "auto") -> np.ndarray:
    """VADER compound sentiment per comment, -1 (most negative) to +1; NaN for blank comments and
    for comments not in English (VADER's lexicon is English).

    VADER sums the valence of lexicon words, adjusted for negation, intensifiers, "but" and
    capitals, and normalises: ``compound = s / sqrt(s^2 + 15)`` (Hutto & Gilbert 2014, section 3).

    "love" has valence 3.2 in the lexicon: 3.2 / sqrt(3.2^2 + 15) = 0.637; "terrible" -2.1 and
    "support" +1.7 sum to -0.4: -0.4 / sqrt(0.16 + 15) = -0.103.

    >>> sentiment_scores(["I love it", "Terrible support", "Die Lieferung war gut"]).round(3).tolist()
    [0.637, -0.103, nan]
    """
    _check_language(language)
    texts, blank = _texts(comments)
    out = np.full(texts.size, np.nan)
    for i in np.flatnonzero(~blank):
        lang = _guess_language(texts[i]) if language == "auto" else language
        if lang == "en":
            out[i] = _vader().polarity_scores(texts[i])["compound"]
    return out


def comment_sentiment(
    comments: Any,
    scores: Any,
    *,
    language: Language = "auto",
    threshold: float = 0.05,
    confidence: float = 0.95,
    promoter_min: int = 9,
    detractor_max: int = 6,
    on_invalid: OnInvalid = "raise",
) -> pd.DataFrame:
    r"""Share of positive, neutral and negative comments by NPS group (VADER lexicon, English).

    A comment is positive when its VADER compound score is >= ``threshold``, negative when
    <= -``threshold``, else neutral (the cut-offs Hutto & Gilbert recommend, 0.05). Shares carry
    Wilson intervals (:func:`kpi_xl.metrics.wilson_interval`). Comments in other languages are
    counted as ``not_scored``: no lexicon for them ships inside a package.

    Returns
    -------
    DataFrame
        Index ``group`` (detractor, passive, promoter, all): ``n_scored``, ``not_scored``,
        ``share_positive`` (with ``positive_ci_low``/``positive_ci_high``), ``share_neutral``,
        ``share_negative`` (with its interval), ``mean_compound``; ``attrs["lexicon"]`` names the
        lexicon.

    References
    ----------
    Hutto, C. J. & Gilbert, E. (2014). VADER: A Parsimonious Rule-based Model for Sentiment
    Analysis of Social Media Text. Proceedings of ICWSM-14, 216-225.

    Examples
    --------
    >>> t = comment_sentiment(["I love it", "great", "awful", "ok"], [10, 9, 2, 8])
    >>> float(t.loc["promoter", "share_positive"]), float(t.loc["detractor", "share_negative"])
    (1.0, 1.0)
    """
    check_confidence(confidence)
    if not 0 <= threshold < 1:
        raise KpiInputError(f"threshold must be from 0 to 1, got {threshold!r}", argument="threshold")
    compound = sentiment_scores(comments, language=language)
    texts, blank = _texts(comments)
    groups = nps_groups(scores, promoter_min=promoter_min, detractor_max=detractor_max, on_invalid=on_invalid)
    _same_length(texts.size, groups.size, "scores")
    rows = {}
    for gname in (*GROUPS, "all"):
        in_g = (groups != None) & ~blank if gname == "all" else groups == gname  # noqa: E711
        in_g = in_g & ~blank
        x = compound[in_g]
        scored = x[~np.isnan(x)]
        n = int(scored.size)
        pos, neg = int((scored >= threshold).sum()), int((scored <= -threshold).sum())
        row: dict[str, Any] = {"n_scored": n, "not_scored": int(in_g.sum() - n)}
        if n:
            p_lo, p_hi = wilson_interval(pos, n, confidence)
            n_lo, n_hi = wilson_interval(neg, n, confidence)
            row.update(
                share_positive=pos / n, positive_ci_low=p_lo, positive_ci_high=p_hi,
                share_neutral=(n - pos - neg) / n,
                share_negative=neg / n, negative_ci_low=n_lo, negative_ci_high=n_hi,
                mean_compound=float(scored.mean()),
            )  # fmt: skip
        rows[gname] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "group"
    table.attrs["lexicon"] = "VADER 3.3.2 (Hutto & Gilbert 2014), English"
    return table
