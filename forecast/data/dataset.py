"""Load and validate the shipped dataset (``data/``): all or nothing, every problem named."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import msgspec

from forecast.data.csvfiles import load_evidence, load_rows, read_csv
from forecast.data.question import Question, check_campaign_roles, load_question
from forecast.data.records import (
    Ally,
    Bloc,
    EvidenceItem,
    Grievance,
    Problem,
    ValidationError,
    Vocabulary,
)
from forecast.data.reference import (
    Campaign,
    attach_counts,
    by_rule,
    known_before,
    parse_campaign,
    parse_holdout_count,
)
from forecast.data.rows import CODE_PATTERN, parse_ally, parse_bloc, parse_grievance

logger = logging.getLogger(__name__)

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[2] / "data"


class Dataset(msgspec.Struct, frozen=True, kw_only=True):
    """Everything in ``data/``, validated."""

    question: Question
    blocs: tuple[Bloc, ...]
    allies: tuple[Ally, ...]
    grievances: tuple[Grievance, ...]
    evidence: tuple[EvidenceItem, ...]
    # The reference class: campaigns decided before the opening day in which one member
    # or a defined group could block (``reference.BLOCKING_RULES``), with their counts.
    campaigns: tuple[Campaign, ...]
    # Campaigns decided before the opening day under a rule no single member could
    # block (qualified majority): the sensitivity check's extra rows, not learned from.
    other_campaigns: tuple[Campaign, ...] = ()
    # Ids of the campaigns in the file decided on or after the opening day: not learned
    # from (no hindsight), listed by ``check``.
    later_campaigns: tuple[str, ...] = ()

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(a.code for a in self.allies)

    def ally(self, code: str) -> Ally:
        """The ally with this code; ``KeyError`` naming the valid codes otherwise."""
        for a in self.allies:
            if a.code == code:
                return a
        raise KeyError(f"unknown ally {code!r}; valid codes: {', '.join(sorted(self.codes))}")

    def vocabulary(self, extra_grievances: tuple[str, ...] = ()) -> Vocabulary:
        """What an evidence record may name (``extra_grievances``: ids of posted grievances)."""
        return Vocabulary(
            allies=self.codes,
            blocs=tuple(b.key for b in self.blocs),
            grievances=tuple(g.id for g in self.grievances) + extra_grievances,
        )


def load_dataset(data_dir: Path | str | None = None) -> Dataset:
    """Load and validate every file in ``data_dir``.

    Parameters
    ----------
    data_dir
        Folder holding ``question.toml``, ``blocs.csv``, ``allies.csv``,
        ``grievances.csv``, ``evidence.csv``, ``campaigns.csv`` and
        ``holdout_counts.csv`` (default: the shipped ``data/``).

    Returns
    -------
    Dataset
        Only when every file is valid: nothing half-loaded is ever returned.

    Raises
    ------
    ValidationError
        Listing every problem in every file, each with file, row, field and valid values.
    """
    folder = Path(data_dir) if data_dir is not None else DEFAULT_DATA_DIR
    problems: list[Problem] = []
    question = load_question(folder / "question.toml", problems)
    blocs = load_rows(folder / "blocs.csv", problems, parse_bloc, unique="key")
    bloc_keys = tuple(b.key for b in blocs)
    allies = load_rows(
        folder / "allies.csv", problems, lambda r, p: parse_ally(r, p, bloc_keys), unique="code"
    )
    # Members whose row has a problem elsewhere still count as members when the other
    # files are checked: one bad cell is reported once, not again in every file naming it.
    codes = tuple(a.code for a in allies)
    if any(p.file == "allies.csv" for p in problems):
        valid = {a.code for a in allies}
        codes += tuple(
            code
            for _, row in read_csv(folder / "allies.csv", [])
            if CODE_PATTERN.match(code := row["code"].strip()) and code not in valid
        )
    opened = question.opened if question else None
    grievances = load_rows(
        folder / "grievances.csv",
        problems,
        lambda r, p: parse_grievance(r, p, codes, bloc_keys, opened),
        unique="id",
    )
    vocabulary = Vocabulary(
        allies=codes, blocs=bloc_keys, grievances=tuple(g.id for g in grievances)
    )
    evidence = load_evidence(folder / "evidence.csv", problems, vocabulary, latest=opened)
    campaign_problems: list[Problem] = []
    campaigns = load_rows(folder / "campaigns.csv", campaign_problems, parse_campaign, unique="id")
    counts = load_rows(
        folder / "holdout_counts.csv", campaign_problems, parse_holdout_count, numbered=True
    )
    # Counts are checked against their campaigns only when every campaign row is valid:
    # a count of a refused row is not reported again.
    if not campaign_problems:
        campaigns = attach_counts(campaigns, counts, campaign_problems)
    problems.extend(campaign_problems)
    if question is not None:
        check_campaign_roles(question, codes, problems)
    if problems:
        raise ValidationError(problems)
    later: tuple[str, ...] = ()
    if opened is not None:
        learned = known_before(campaigns, opened)
        kept = {c.id for c in learned}
        later = tuple(c.id for c in campaigns if c.id not in kept)
        if later:
            logger.info(
                "left out %d campaign(s) decided on or after the opening day %s",
                len(later),
                opened,
            )
        campaigns = learned
    reference, others = by_rule(campaigns)
    dataset = Dataset(
        question=question,
        blocs=blocs,
        allies=allies,
        grievances=grievances,
        evidence=evidence,
        campaigns=reference,
        other_campaigns=others,
        later_campaigns=later,
    )
    logger.info(
        "loaded %d allies, %d grievances, %d evidence items from %s",
        len(allies),
        len(grievances),
        len(evidence),
        folder,
    )
    return dataset


def read_evidence(path: Path, dataset: Dataset, latest: dt.date | None) -> tuple[EvidenceItem, ...]:
    """The items of an evidence CSV laid out as ``evidence.csv`` (a replay's later
    evidence, say), validated against ``dataset`` as its own ``evidence.csv`` is.

    Parameters
    ----------
    path
        A UTF-8 CSV with the ``evidence.csv`` header.
    dataset
        The question whose allies, blocs and grievances the items may name.
    latest
        The last date an item may carry (``clock.today()`` for what is known now).

    Raises
    ------
    ValidationError
        Listing every problem, each with file, row, field and valid values.
    """
    problems: list[Problem] = []
    items = load_evidence(path, problems, dataset.vocabulary(), latest=latest)
    if problems:
        raise ValidationError(problems)
    return items
