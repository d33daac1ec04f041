"""How far the same jobs move from one machine to another.

Run one benchmark sweep with the same spec and commit on two or more machines (each writes
its finished jobs to ``<output>/jobs/<key>.joblib``; the key is the same wherever it runs),
then give this script the job folders, machine A's first. It pairs the jobs each shares with
A's and reports, per augmenter, decoder and mode, the test R^2 on each machine and the
difference to A: what moves when only the hardware changes (CPU model, float summation
order, a GPU for the torch decoders, which use ``device="auto"``). hardware_probe.py writes
such a folder from one EAG fit in about a minute.

Writes benchmarks/results/hardware_spread_<name>.{json,md}.

    python benchmarks/hardware_spread.py RUN_A/jobs RUN_B/jobs [RUN_C/jobs ...] --name NAME
        [--about TEXT]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import _common
import joblib
import pandas as pd
from decoding_gain import md_table

KEY = ["train_fraction", "seed", "augmenter", "decoder", "mode", "test_set"]
COLUMNS = {"machine": "machine", "augmenter": "augmenter", "decoder": "decoder", "mode": "mode",
           "n": "jobs", "mean_a": "mean on A", "mean_other": "mean on it",
           "mean_diff": "mean minus A", "max_abs": "largest |difference|",
           "same": "jobs whose tuning chose A's settings"}
FORMATS = {"mean_a": "{:.4f}", "mean_other": "{:.4f}", "mean_diff": "{:+.4f}",
           # tiny differences (float reordering) stay visible, not rounded to 0.0000
           "max_abs": "{:.2g}", "same": "{:.0f}"}


def _machine(record: dict) -> str:
    m = record["saved"]["machine"]
    gpu = f", GPU {m['gpu']}" if m.get("gpu") else ", no GPU"
    return (f"{m['cpu']} ({m['cores']} cores{gpu}), torch {m['torch']}, "
            f"commit {m.get('commit') or 'unknown'}")


def paired_jobs(folder_a: Path, folder_b: Path) -> list[tuple[dict, dict]]:
    """The records saved under the same key in both folders, in key order."""
    for folder in (folder_a, folder_b):
        if not folder.is_dir():
            raise SystemExit(f"hardware_spread: no job folder at {folder}")
    shared = sorted({p.name for p in folder_a.glob("*.joblib")}
                    & {p.name for p in folder_b.glob("*.joblib")})
    if not shared:
        raise SystemExit(f"hardware_spread: {folder_a} and {folder_b} share no job: were they "
                         "run with the same spec and package version?")
    return [(joblib.load(folder_a / name), joblib.load(folder_b / name)) for name in shared]


def differences(pairs: list[tuple[dict, dict]]) -> pd.DataFrame:
    """One row per (job, decoder, mode, test set): R^2 and the settings tuning chose
    (``params``; None for a fixed pipeline) on machine A and on machine B; ``same`` is NaN
    where nothing was tuned."""
    a = pd.DataFrame([row for rec, _ in pairs for row in rec["rows"]])
    b = pd.DataFrame([row for _, rec in pairs for row in rec["rows"]])
    both = a[KEY + ["r2", "params"]].merge(b[KEY + ["r2", "params"]], on=KEY,
                                           suffixes=("_a", "_b"), validate="one_to_one")
    tuned = both.params_a.notna() | both.params_b.notna()
    same = (both.params_a == both.params_b).astype(float).where(tuned)
    return both.assign(diff=both.r2_b - both.r2_a, same=same)


def summarise(both: pd.DataFrame) -> pd.DataFrame:
    return (both.groupby(["augmenter", "decoder", "mode"], sort=False)
            .agg(n=("diff", "size"), mean_a=("r2_a", "mean"), mean_b=("r2_b", "mean"),
                 mean_diff=("diff", "mean"), max_abs=("diff", lambda d: d.abs().max()),
                 same=("same", lambda s: s.sum(min_count=1)))
            .reset_index())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("jobs_a", type=Path, help="machine A's job folder (<output>/jobs)")
    p.add_argument("others", type=Path, nargs="+", metavar="jobs_b",
                   help="the job folders of machines B, C, ..., each compared with A's")
    p.add_argument("--name", required=True, type=_common.file_name_part,
                   help="names the result files: hardware_spread_<name>.{json,md}")
    p.add_argument("--about", default="",
                   help="how each machine ran its jobs (command, jobs at a time), for the page")
    p.add_argument("--out", type=Path, default=_common.RESULTS)
    args = p.parse_args()
    labels = [chr(ord("B") + i) for i in range(len(args.others))]
    compared = {label: paired_jobs(args.jobs_a, folder)
                for label, folder in zip(labels, args.others)}
    lines = [f"# The same jobs on several machines: {args.name}", "",
             f"- A: {_machine(compared['B'][0][0])}"]
    tables, saved = [], []
    for label, pairs in compared.items():
        both = differences(pairs)
        summary = summarise(both).rename(columns={"mean_b": "mean_other"})
        jobs = sorted({rec["job"].describe() for rec, _ in pairs})
        lines.append(f"- {label}: {_machine(pairs[0][1])}; {len(pairs)} jobs saved under the "
                     f"same key as A's: " + "; ".join(jobs))
        tables.append(summary.assign(machine=label))
        saved.append({"label": label, "machine": pairs[0][1]["saved"]["machine"], "jobs": jobs,
                      "rows": both.to_dict(orient="records"),
                      "summary": summary.to_dict(orient="records")})
    summary = pd.concat(tables, ignore_index=True)
    fmt = {c: summary[c].map(f.format, na_action="ignore").astype(object).fillna("fixed")
           for c, f in FORMATS.items()}
    lines += [*([f"- {args.about}"] if args.about else []), "",
              "Test R^2 per augmenter, decoder and mode, mean over the jobs; the difference to "
              "A is paired by job.", "", md_table(summary.assign(**fmt), COLUMNS), "",
              f"Command: `python benchmarks/hardware_spread.py {args.jobs_a} "
              + " ".join(str(f) for f in args.others) + f" --name {args.name}"
              + (" --about '...'" if args.about else "") + "`."]
    args.out.mkdir(parents=True, exist_ok=True)
    _common.write_json(args.out / f"hardware_spread_{args.name}.json",
                       {"machine_a": compared["B"][0][0]["saved"]["machine"],
                        "about": args.about, "others": saved})
    (args.out / f"hardware_spread_{args.name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
