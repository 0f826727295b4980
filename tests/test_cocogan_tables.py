"""COCO-GAN's paper rows measured by the paper's own protocol (experiment-level ``protocols``): the published
FIDs of config/published.yaml sit beside ours in the cocogan table exactly where dataset, resolution, protocol
and configuration match, and the other papers' tables get no column for COCO-GAN's protocol."""

from __future__ import annotations

import json
from pathlib import Path

from ganbench.config import REPO_ROOT, load_config
from ganbench.metrics import plan
from ganbench.metrics.paths import eval_path
from ganbench.tables.formats import cell_text
from ganbench.tables.render import build_table
from ganbench.tables.specs import configured_specs


def paper_specs():
    config = load_config(REPO_ROOT / "config" / "paper.yaml")
    specs = configured_specs(
        config["tables"],
        config["experiments"],
        list(plan.protocols_of(config).values()),
        scales=config["metrics"]["any_scale"]["scales"],
        datasets=config["datasets"],
        defaults=plan.default_protocols(config),
    )
    return config, {s.name: s for s in specs}


def write(root: Path, experiment: str, metric: str, protocol, value: float) -> None:
    path = Path(eval_path(experiment, metric, protocol.name, root=root))
    path.parent.mkdir(parents=True, exist_ok=True)
    record = dict(protocol.record(), num_real=protocol.reals)
    path.write_text(json.dumps({"metric": metric, "value": value, "std": None, "protocol": record}))


def test_published_fids_sit_beside_the_best_snapshot_of_the_papers_configuration(tmp_path):
    config, specs = paper_specs()
    protocols = plan.protocols_of(config)
    spec = specs["cocogan_fid"]
    assert {c.protocol for c in spec.columns} == {"fid50k_ttur", "fid50k_ttur_hq"}
    measured = {
        "cocogan-celeba-64": "fid50k_ttur",
        "cocogan-celeba-128": "fid50k_ttur",
        "cocogan-celeba-128-patch-guided": "fid50k_ttur",
        "cocogan-lsun-bedroom-256": "fid50k_ttur",
        "cocogan-celeba-hq-1024": "fid50k_ttur_hq",
        "cocogan-lsun-bedroom-256-extrap": "fid50k_ttur",
    }
    for i, (name, protocol) in enumerate(measured.items()):
        for metric in ("fid", "fid-best", "fid-extrap"):
            write(tmp_path, name, metric, protocols[protocol], 10.0 + i)
    table = build_table(spec, config["experiments"], tmp_path)
    rows = dict(zip(table.row_labels, table.cells))

    def texts(name):
        return {c.metric + "@" + c.protocol: cell_text(cell, c) for c, cell in zip(spec.columns, rows[name])}

    assert texts("cocogan-celeba-64")["fid-best@fid50k_ttur"] == "10.00 (paper*: 4.00)"
    assert texts("cocogan-celeba-128")["fid-best@fid50k_ttur"] == "11.00 (paper*: 5.74)"
    assert texts("cocogan-lsun-bedroom-256")["fid-best@fid50k_ttur"] == "13.00 (paper*: 5.99)"
    assert texts("cocogan-celeba-hq-1024")["fid-best@fid50k_ttur_hq"] == "14.00 (paper*: 9.49)"
    # the final snapshot, patch-guided training and the extrapolation stage are not the published numbers
    assert texts("cocogan-celeba-64")["fid@fid50k_ttur"] == "10.00"
    assert "paper" not in " ".join(texts("cocogan-celeba-128-patch-guided").values())
    assert "paper" not in " ".join(texts("cocogan-lsun-bedroom-256-extrap").values())
    assert "Paper values in parentheses" in table.caption


def test_the_same_numbers_under_another_protocol_show_no_published_value(tmp_path):
    config, specs = paper_specs()
    fid50k_full = plan.protocols_of(config)["fid50k_full"]
    for name in ("cocogan-celeba-64", "cocogan-celeba-hq-1024"):  # measured against every real image instead
        path = Path(eval_path(name, "fid-best", "fid50k_ttur", root=tmp_path))
        path.parent.mkdir(parents=True, exist_ok=True)
        record = dict(fid50k_full.record(), name="fid50k_ttur")
        path.write_text(json.dumps({"metric": "fid-best", "value": 3.0, "std": None, "protocol": record}))
    table = build_table(specs["cocogan_fid"], config["experiments"], tmp_path)
    assert "paper" not in "".join(cell_text(c, col) for line in table.cells for c, col in zip(line, table.spec.columns))
    assert "2 paper values not shown: protocol differs or is unknown." in table.caption


def test_other_papers_tables_get_no_column_for_cocogans_protocol():
    _, specs = paper_specs()
    for name, spec in specs.items():
        if not name.startswith(("cocogan", "cross_method-celeba", "cross_method-lsun-bedroom")):
            assert not {c.protocol for c in spec.columns} & {"fid50k_ttur", "fid50k_ttur_hq"}, name
    assert {c.protocol for c in specs["baseline"].columns} == {"fid50k_full", "kid50k_full"}
    assert {c.protocol for c in specs["cross_method-celeba-64"].columns} == {"fid50k_ttur"}  # COCO-GAN's only
    assert {c.protocol for c in specs["cross_method-ffhq-512"].columns} == {"fid50k_full", "kid50k_full"}


def test_captions_state_the_cbn_and_gp_forms_the_lengths_and_the_outward_crop_assumption():
    from ganbench.tables.specs import cocogan_deviations

    config, specs = paper_specs()
    caption = " ".join(specs["cocogan_fid"].deviations)
    assert "CelebA-syn outward: the 150-px crop's position is our assumption" in caption
    assert "CBN fixed" in caption and "official per-element form" in caption
    exp = {"name": "a", "method": "cocogan", "dataset": "d", "resolution": 32, "kimg": 3}
    official = cocogan_deviations([{**exp, "options": {"cbn": "official", "gp_form": "per_sample", "ngf": 16}}])
    assert official[0].startswith("CBN as the official TF code") and "per sample (WGAN-GP)" in official[1]
    assert "ngf 16, ndf 64, z 128 (official 64, 64, 128)" in official[2] and "trained 3 kimg" in official[3]
    assert not any("outward" in d for d in cocogan_deviations([exp], {"d": {"transform": "celeba-crop"}}))
