"""The weekly figures from three weeks of stored history, each KPI against a hand count.

The history is made the way the owner makes it — reviews started, answered, decided and finished
through the service, a disable's effect written as a verified switch leaves it, a connector
removed — and the figures are read back from the store (review_week), never typed in.

The seeded inventory (tests/tui/seed.py), by hand:
  active (not disabled) in week 10: 9 of 10 (sendgrid-newsletter is disabled)
  shared key: openai-support and openai-support-test
  live level within mode: every probed "ok" connector except slack-digest (send over draft-only)
  levels held (distinct levels of live scopes): github 2 (write, read), slack 2 (read, send),
      openai-support 1, openai-support-test 1, anthropic-admin 1, gitlab-ci 1 = 8
  use known: github-issues-bot exec 40 days before week 10, gitlab-ci exec 1 day before
  drift: slack-digest (chat:write, first seen NOW-5h), anthropic-admin (organization:admin, NOW-72h)
"""

from __future__ import annotations

import pytest

import app.services.review.figures
import app.services.review.report
import app.services.review.service  # noqa: F401
from app.services.review.figures import history, trends
from tests.review.history import build_three_weeks
from tests.tui.seed import NOW, frozen_time, seed


@pytest.fixture
def three_weeks(services):
    with frozen_time(NOW) as clock:
        seed(services, clock)
        yield build_three_weeks(services, clock)


def test_three_weeks_of_figures_match_the_hand_count(three_weeks):
    weeks = history(three_weeks)
    assert [w["week"] for w in weeks] == ["2026-W10", "2026-W11", "2026-W12"]
    w10, w11, w12 = weeks

    assert (w10["active"], w11["active"], w12["active"]) == (9, 8, 7)
    assert (w10["shared_keys"], w11["shared_keys"], w12["shared_keys"]) == (2, 2, 0)

    # coverage: github and gitlab answered all 8 and are within mode
    assert (w10["lp_covered"], w10["lp_coverage_pct"]) == (2, 22.2)  # 2 / 9
    assert (w11["lp_covered"], w11["lp_coverage_pct"]) == (2, 25.0)  # 2 / 8
    assert (w12["lp_covered"], w12["lp_coverage_pct"]) == (2, 28.6)  # 2 / 7

    # stale permissions: github's 2 levels (last use 40, 47, 54 days ago) over the levels held
    assert (w10["levels_stale"], w10["levels_held"], w10["levels_use_unknown"]) == (2, 8, 5)
    assert w10["stale_permissions_pct"] == 25.0
    assert (w11["levels_stale"], w11["levels_held"], w11["stale_permissions_pct"]) == (2, 7, 28.6)  # anthropic off
    assert (w12["levels_stale"], w12["levels_held"], w12["stale_permissions_pct"]) == (2, 6, 33.3)  # test removed

    # drift to decision: slack 5 h (seen NOW-5h, reduced at NOW); anthropic 72 h + a week = 240 h
    assert (w10["drift_median_h"], w10["drift_slowest_h"]) == (5.0, 5.0)
    assert (w10["drift_open"], w10["drift_oldest_open_h"]) == (1, 73.0)  # anthropic, at finish (NOW+1h)
    assert (w11["drift_median_h"], w11["drift_slowest_h"], w11["drift_open"]) == (240.0, 240.0, 0)
    assert (w12["drift_median_h"], w12["drift_open"], w12["drift_oldest_open_h"]) == (None, 0, None)

    # reviewed vs due, "don't know" apart
    assert (w10["due"], w10["reviewed"], w10["reviewed_dont_know"], w10["reviewed_pct"]) == (10, 3, 1, 40.0)
    assert (w11["due"], w11["reviewed"], w11["reviewed_dont_know"], w11["reviewed_pct"]) == (7, 3, 0, 42.9)
    assert (w12["due"], w12["reviewed"], w12["reviewed_dont_know"], w12["reviewed_pct"]) == (6, 2, 0, 33.3)

    # reduction rate: reduce / rotate / disable over all decisions of the week
    assert (w10["reducing_decisions"], w10["decisions"], w10["reduction_rate_pct"]) == (1, 4, 25.0)
    assert (w11["reducing_decisions"], w11["decisions"], w11["reduction_rate_pct"]) == (2, 3, 66.7)
    assert (w12["reducing_decisions"], w12["decisions"], w12["reduction_rate_pct"]) == (0, 2, 0.0)


def test_week_on_week_arrows(three_weeks):
    shown = {t.kpi.key: t for t in trends(history(three_weeks))}
    assert shown["shared_keys"].arrow == "▼" and shown["shared_keys"].good is True
    assert shown["lp_coverage_pct"].arrow == "▲" and shown["lp_coverage_pct"].good is True
    assert shown["stale_permissions_pct"].arrow == "▲" and shown["stale_permissions_pct"].good is False
    assert shown["reviewed_pct"].delta == "▼ 9.6% vs last week"
    assert shown["reduction_rate_pct"].series == (25.0, 66.7, 0.0)
    assert shown["drift_median_h"].arrow == "="  # no drift decided in week 12: no claim


def test_the_report_shows_the_three_weeks(three_weeks):
    md = three_weeks.report(fmt="md")
    assert "| 2026-W10 | 2 | 22.2% | 25% | 5 h | 40% | 25% |" in md
    assert "| reduction rate | 0% | ▼ 66.7% vs last week |" in md
    html = three_weeks.report(fmt="html")
    assert html.count("<rect") == 6 * 3  # one bar per week per figure
