"""The optimiser's request: built from the config with overrides by one function, checked by one
set of rules (the config loader's too), refusals named as the user knows the field (config key,
flag or form label); the command line and the optimiser screen make equal requests for the
same settings.
"""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from hedgedesk.core.config import load_config, resolve_config_path
from hedgedesk.core.data.sources import load_market
from hedgedesk.core.demo import demo_config_path
from hedgedesk.core.errors import ConfigError
from hedgedesk.core.limits import (
    CONFIG_KEYS,
    RANGES,
    Group,
    Naming,
    Range,
    SettingError,
    View,
    check_settings,
)
from hedgedesk.core.optimize.request import OptimizeRequest, book_weights
from hedgedesk.tui.cli.common import market_for
from hedgedesk.tui.cli.main import build_parser, main
from hedgedesk.tui.cli.optimize import NAMES, request_from
from hedgedesk.tui.screens.optimizer import FormError, initial_values, request_for


@pytest.fixture(scope="module")
def desk():
    cfg = load_config(resolve_config_path())
    return cfg, load_market(cfg)


def with_optimizer(cfg, **changes):
    return replace(cfg, optimizer=replace(cfg.optimizer, **changes))


def demo_with(tmp_path, **keys) -> str:
    """The demo config with ``[optimizer]`` keys set (TOML literals), written to a file."""
    text = demo_config_path().read_text(encoding="utf-8")
    head = "[optimizer]\n"
    for key, literal in keys.items():
        text, n = re.subn(rf"(?m)^{key} = .*$", f"{key} = {literal}", text, count=1)
        if not n:
            text = text.replace(head, f"{head}{key} = {literal}\n", 1)
    path = tmp_path / "desk.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


# -- from_config ---------------------------------------------------------------------------------
def test_from_config_is_the_config_field_by_field(desk):
    cfg, market = desk
    o = cfg.optimizer
    req = OptimizeRequest.from_config(cfg, market, cfg.data.start, cfg.data.end)
    assert req == OptimizeRequest(
        tickers=cfg.data.universe,
        objective=o.objective,
        long_only=o.long_only,
        min_weight=o.min_weight,
        max_weight=o.max_weight,
        groups=o.groups,
        vol_cap=o.vol_cap,
        net=o.net,
        gross_max=o.gross_max,
        turnover_max=o.turnover_max,
        cost_rate=o.cost_rate,
        beta_band=o.beta_band,
        te_cap=o.te_cap,
        benchmark=cfg.data.benchmark,
        rf=cfg.risk.rf,
        points=o.points,
        shrinkage=o.shrinkage,
        risk_aversion=o.risk_aversion,
        confidence=o.cvar_confidence,
        kelly_fraction=o.kelly_fraction,
        budgets=o.budgets,
        tau=o.tau,
        prior=o.prior,
        start=cfg.data.start,
        end=cfg.data.end,
        current=book_weights(cfg, market),
    )
    assert req.views == ()  # Black-Litterman only when asked
    assert sum(req.current.values()) == pytest.approx(1.0)


def test_overrides_replace_their_fields_only(desk):
    cfg, market = desk
    base = OptimizeRequest.from_config(cfg, market)
    req = OptimizeRequest.from_config(
        cfg, market, max_weight=0.3, objective="min-variance", views=cfg.optimizer.views
    )
    assert req == replace(base, max_weight=0.3, objective="min-variance", views=cfg.optimizer.views)
    with pytest.raises(TypeError, match="max_wieght"):
        OptimizeRequest.from_config(cfg, market, max_wieght=0.3)


def test_without_a_config_the_request_defaults_apply(desk):
    _, market = desk
    req = OptimizeRequest.from_config(None, market, tickers=("AAPL", "MSFT"))
    assert req == OptimizeRequest(("AAPL", "MSFT"), "max-sharpe")


def test_switching_side_takes_that_sides_floor(desk):
    cfg, market = desk
    short = OptimizeRequest.from_config(cfg, market, long_only=False)
    assert (short.long_only, short.min_weight) == (False, -1.0)
    given = OptimizeRequest.from_config(cfg, market, long_only=False, min_weight=-0.2)
    assert given.min_weight == -0.2
    # a long-short config: its own floor stays; switched to long-only, floor 0 and no gross limit
    ls = with_optimizer(cfg, long_only=False, min_weight=-0.3, gross_max=1.6)
    assert OptimizeRequest.from_config(ls, market, long_only=False).min_weight == -0.3
    long = OptimizeRequest.from_config(ls, market, long_only=True)
    assert (long.min_weight, long.gross_max) == (0.0, None)


# -- the rules -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "changes,path,expected",
    [
        ({"max_weight": -0.5}, "max_weight", "a finite number > 0 and <= 1"),
        ({"max_weight": 0.0}, "max_weight", "a finite number > 0 and <= 1"),
        ({"vol_cap": float("nan")}, "vol_cap", "a finite number > 0"),
        ({"points": 1}, "points", "a whole number >= 2"),
        ({"points": 2.5}, "points", "a whole number >= 2"),
        ({"confidence": 0.9999}, "confidence", "a finite number >= 0.5 and <= 0.999"),
        ({"tau": 2.0}, "tau", "a finite number > 0 and <= 1"),
        ({"min_weight": -0.1}, "min_weight", "on a long-only book (shorts need long_short)"),
        ({"min_weight": 0.2, "max_weight": 0.1}, "min_weight", "a number <= max_weight (0.1)"),
        ({"gross_max": 1.5}, "gross_max", "no gross limit on a long-only book"),
        ({"objective": "max-sharp"}, "objective", "one of min-variance, max-sharpe"),
        ({"shrinkage": "oas"}, "shrinkage", "one of none, ledoit-wolf"),
        ({"overlay_objective": "var"}, "overlay_objective", "one of variance, cvar"),
        ({"beta_band": (0.9, 0.8)}, "beta_band", "[low, high] with low <= high"),
        ({"beta_band": (0.8, 6.0)}, "beta_band", "each a finite number >= -5 and <= 5"),
        ({"net": (1.0,)}, "net", "[low, high]"),
        ({"groups": (Group("g", ("AAPL",), 0.5, 0.4),)}, "groups[0].min", "<= max (0.4)"),
        ({"groups": (Group("g", ("AAPL",), 0.1, 1.5),)}, "groups[0].max", "<= 1"),
        ({"groups": (Group("g", (), 0.1, 0.5),)}, "groups[0].tickers", "at least one ticker"),
        ({"views": (View(("AAPL",), (1.0,), 0.1, 0.0),)}, "views[0].confidence", "> 0"),
        ({"views": (View(("AAPL",), (1.0,), 11.0, 0.5),)}, "views[0].view", "<= 10"),
        ({"views": (View(("A", "B"), (1.0,), 0.1, 0.5),)}, "views[0].weights", "one per asset"),
        ({"budgets": (("AAPL", 0.0),)}, "budgets.AAPL", "a finite number > 0"),
        ({"prior": (("AAPL", -1.0),)}, "prior.AAPL", "a finite number >= 0"),
        ({"beta_band": (0.5, 0.9), "benchmark": None}, "beta_band", "a benchmark"),
        ({"te_cap": 0.05, "benchmark": "ZZZ", "current": {}}, "te_cap", "current weights"),
    ],
)
def test_each_rule_refuses_naming_the_field(desk, changes, path, expected):
    cfg, market = desk
    with pytest.raises(SettingError) as info:
        OptimizeRequest.from_config(cfg, market, **changes)
    assert info.value.path == path
    assert expected in str(info.value)


def test_requests_the_rules_accept(desk):
    cfg, market = desk
    ok = OptimizeRequest.from_config(
        cfg,
        market,
        long_only=False,
        min_weight=-0.5,
        gross_max=1.5,
        beta_band=(0.5, 0.9),
        te_cap=0.05,
        points=2,
        tau=1.0,
    )
    assert ok.gross_max == 1.5
    # hedge-overlay sizes the config's legs: a beta band there needs no benchmark
    overlay = OptimizeRequest.from_config(
        None, market, tickers=(), objective="hedge-overlay", beta_band=(0.3, 0.4)
    )
    assert overlay.beta_band == (0.3, 0.4)


def test_range_words_and_holds():
    assert Range(0, 1, lo_open=True).expected() == "a finite number > 0 and <= 1"
    assert Range(2, whole=True).expected() == "a whole number >= 2"
    assert Range().expected() == "a finite number"
    r = RANGES["max_weight"]
    assert [r.holds(x) for x in (1, 0.5, 0, -0.5, True, "0.5", float("inf"))] == [
        True,
        True,
        False,
        False,
        False,
        False,
        False,
    ]


def test_check_settings_checks_only_what_it_is_given():
    check_settings({"max_weight": 0.5})
    check_settings({})
    with pytest.raises(SettingError, match="long_only: got 'yes', expected true or false"):
        check_settings({"long_only": "yes"})


# -- naming --------------------------------------------------------------------------------------
def test_one_refusal_in_the_terms_of_config_flags_and_form(desk):
    cfg, market = desk
    with pytest.raises(SettingError) as info:
        OptimizeRequest.from_config(cfg, market, min_weight=-0.1)
    err = info.value
    tail = "got -0.1, expected a finite number >= 0 and <= 1 on a long-only book"
    assert err.named(CONFIG_KEYS) == (
        f"optimizer.min_weight: {tail} (shorts need optimizer.long_only = false)"
    )
    assert err.named(NAMES) == f"--min-weight: {tail} (shorts need --long-short)"
    form = Naming({"min_weight": "min weight", "long_short": "long only: no"})
    assert err.named(form) == f"min weight: {tail} (shorts need long only: no)"
    keys = CONFIG_KEYS.within("optimizer.")
    assert keys.of(err.path) == "min_weight" and keys.of("rf") == "risk.rf"


def test_a_flag_is_named_only_when_given_the_rest_by_config_key(desk):
    cfg, market = desk
    floor = with_optimizer(cfg, min_weight=0.1)  # from the config; the cap from a flag
    with pytest.raises(SettingError) as info:
        OptimizeRequest.from_config(floor, market, max_weight=0.05)
    named = info.value.named(NAMES.only({"max_weight"}))
    assert named == "optimizer.min_weight: got 0.1, expected a number <= --max-weight (0.05)"
    assert NAMES.of("groups[1].min") == "--group"  # flags drop the item's place
    assert CONFIG_KEYS.of("groups[1].min") == "optimizer.groups[1].min"
    assert CONFIG_KEYS.of("budgets.AAPL") == "optimizer.budgets.AAPL"


# -- the config, the flags and the form agree ----------------------------------------------------
@pytest.mark.parametrize(
    "key,flag,value,expected",
    [
        ("max_weight", "--max-weight", "-0.5", "a finite number > 0 and <= 1"),
        ("max_weight", "--max-weight", "0", "a finite number > 0 and <= 1"),
        ("cvar_confidence", "--confidence", "0.9999", "a finite number >= 0.5 and <= 0.999"),
        ("min_weight", "--min-weight", "-0.2", "a finite number >= 0 and <= 1 on a long-only"),
    ],
)
def test_config_and_flags_refuse_alike(tmp_path, capsys, key, flag, value, expected):
    with pytest.raises(ConfigError) as info:
        load_config(demo_with(tmp_path, **{key: value}))
    assert info.value.key == f"optimizer.{key}"
    assert info.value.problem.startswith(f"got {float(value)!r}, expected {expected}")
    rc = main(["optimize", flag, value])
    err = capsys.readouterr().err
    assert rc == 2 and f"{flag}: got {float(value)!r}, expected {expected}" in err
    assert err.count("\n") == 1


def test_config_and_flags_accept_alike(tmp_path, capsys):
    cfg = load_config(demo_with(tmp_path, max_weight="0.5"))
    assert cfg.optimizer.max_weight == 0.5
    assert main(["optimize", "--objective", "min-variance", "--max-weight", "0.5", "--json"]) == 0
    capsys.readouterr()


def test_a_gross_limit_on_a_long_only_config_is_refused_at_load(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(demo_with(tmp_path, gross_max="1.5"))
    assert info.value.key == "optimizer.gross_max"
    assert "(gross limits are for long-short books: long_only = false)" in info.value.problem


def test_the_screen_and_the_cli_make_equal_requests(desk):
    cfg, market = desk
    flags = [
        "--objective",
        "min-variance",
        "--max-weight",
        "0.25",
        "--long-short",
        "--min-weight",
        "-0.2",
        "--gross-max",
        "1.6",
        "--beta-band",
        "0.5",
        "0.9",
        "--rf",
        "0.03",
        "--points",
        "7",
        "--shrinkage",
        "ledoit-wolf",
        "--black-litterman",
    ]
    args = build_parser()[0].parse_args(["optimize", *flags])
    market_cli, start, end = market_for(args, None)
    cli = request_from(args, cfg, market_cli, start, end)

    values = initial_values(OptimizeRequest.from_config(cfg, market, cfg.data.start, cfg.data.end))
    values.update(
        objective="min-variance",
        max_weight="0.25",
        long_only="no",
        min_weight="-0.2",
        gross_max="1.6",
        beta_band="0.5 0.9",
        rf="0.03",
        points="7",
        shrinkage="ledoit-wolf",
        views="yes",
    )
    screen = request_for(values, cfg, market)
    assert screen == cli
    assert (cli.min_weight, cli.gross_max, cli.views) == (-0.2, 1.6, cfg.optimizer.views)
    # untouched, the form is the config's request, as the CLI's with no flags
    bare = build_parser()[0].parse_args(["optimize"])
    untouched = initial_values(
        OptimizeRequest.from_config(cfg, market, cfg.data.start, cfg.data.end)
    )
    assert request_for(untouched, cfg, market) == request_from(bare, cfg, market_cli, start, end)


def test_the_screen_names_a_refused_field_by_its_label(desk):
    cfg, market = desk
    values = initial_values(OptimizeRequest.from_config(cfg, market))
    with pytest.raises(FormError, match=r"^max weight: got -0\.5, expected a finite number > 0"):
        request_for({**values, "max_weight": "-0.5"}, cfg, market)
    with pytest.raises(FormError, match="shorts need long only: no"):
        request_for({**values, "min_weight": "-0.1"}, cfg, market)
    with pytest.raises(FormError, match=r"^points: invalid whole number '2\.5'"):
        request_for({**values, "points": "2.5"}, cfg, market)
