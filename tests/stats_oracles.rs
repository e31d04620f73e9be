//! The statistics core against scipy 1.17.1 / statsmodels 0.15.0. Fixtures in
//! `tests/fixtures/stats/*.json` record the tool versions and exact calls; they are written by
//! `tests/fixtures/stats/make_fixtures.py`. Tolerances: docs/methods.md, Oracles and tolerances.

use nalgebra::DMatrix;
use serde_json::Value;
use sp_impact::stats::bootstrap::{bca_interval, percentile_interval};
use sp_impact::stats::describe::quantiles;
use sp_impact::stats::glm::{self, Covariance, Family};
use sp_impact::stats::hypothesis::{
    SignedRankMethod, Zeros, cohens_dav, cohens_dz, hedges_j, paired_t, signed_rank, welch_t,
};
use sp_impact::stats::matching::{
    CaliperScale, MatchOptions, Unit, Weighted, balance, greedy_match,
};
use sp_impact::stats::multiplicity::{benjamini_hochberg, holm};

use crate::util::{fixtures, read_json};

/// Closed forms (sums, ranks, quantiles, adjustments).
const CLOSED_FORM: f64 = 1e-12;
/// Distribution functions (t and normal tails, p-values).
const DISTRIBUTION: f64 = 1e-10;
/// Iterative fits: coefficients and standard errors.
const IRLS_COEF: f64 = 1e-8;
const IRLS_SE: f64 = 1e-6;

/// |actual - expected| <= tolerance x max(|expected|, 1e-3): relative, with a floor so values
/// near zero are not held to an impossible relative precision.
fn close(actual: f64, expected: f64, tolerance: f64, what: &str) {
    let allowed = tolerance * expected.abs().max(1e-3);
    assert!(
        (actual - expected).abs() <= allowed,
        "{what}: {actual} vs {expected} (tolerance {tolerance})"
    );
}

fn numbers(value: &Value) -> Vec<f64> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect()
}

fn stats_fixture(name: &str) -> Value {
    read_json(&fixtures().join("stats").join(name))
}

#[test]
fn paired_t_effect_sizes_and_signed_rank_match_scipy() {
    let fixture = stats_fixture("paired.json");
    for case in fixture["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let (pre, post) = (numbers(&case["pre"]), numbers(&case["post"]));
        let t = paired_t(&pre, &post).unwrap();
        close(
            t.t,
            case["t"].as_f64().unwrap(),
            DISTRIBUTION,
            &format!("{name} t"),
        );
        close(
            t.df,
            case["df"].as_f64().unwrap(),
            CLOSED_FORM,
            &format!("{name} df"),
        );
        close(
            t.p,
            case["p"].as_f64().unwrap(),
            DISTRIBUTION,
            &format!("{name} p"),
        );
        close(
            t.ci95[0],
            case["ci95"][0].as_f64().unwrap(),
            DISTRIBUTION,
            &format!("{name} ci low"),
        );
        close(
            t.ci95[1],
            case["ci95"][1].as_f64().unwrap(),
            DISTRIBUTION,
            &format!("{name} ci high"),
        );
        close(
            cohens_dz(&pre, &post).unwrap(),
            case["cohens_dz"].as_f64().unwrap(),
            CLOSED_FORM,
            &format!("{name} d_z"),
        );
        close(
            cohens_dav(&pre, &post).unwrap(),
            case["cohens_dav"].as_f64().unwrap(),
            CLOSED_FORM,
            &format!("{name} d_av"),
        );

        let corrected = signed_rank(
            &pre,
            &post,
            Zeros::Wilcox,
            SignedRankMethod::Normal { continuity: true },
        )
        .unwrap();
        assert_eq!(
            corrected.v,
            case["wilcoxon_v"].as_f64().unwrap(),
            "{name} V"
        );
        assert_eq!(corrected.method, "normal");
        close(
            corrected.p,
            case["wilcoxon_normal_correction"].as_f64().unwrap(),
            DISTRIBUTION,
            &format!("{name} wilcoxon cc"),
        );
        let plain = signed_rank(
            &pre,
            &post,
            Zeros::Wilcox,
            SignedRankMethod::Normal { continuity: false },
        )
        .unwrap();
        close(
            plain.p,
            case["wilcoxon_normal_no_correction"].as_f64().unwrap(),
            DISTRIBUTION,
            &format!("{name} wilcoxon"),
        );
        let pratt = signed_rank(
            &pre,
            &post,
            Zeros::Pratt,
            SignedRankMethod::Normal { continuity: true },
        )
        .unwrap();
        close(
            pratt.p,
            case["wilcoxon_pratt_normal_correction"].as_f64().unwrap(),
            DISTRIBUTION,
            &format!("{name} pratt"),
        );
        if let Some(exact) = case["wilcoxon_exact_conditional"].as_f64() {
            let result = signed_rank(&pre, &post, Zeros::Wilcox, SignedRankMethod::Auto).unwrap();
            assert_eq!(
                (result.method, result.nonzero, result.zeros),
                ("exact", 10, 2)
            );
            close(
                result.p,
                exact,
                CLOSED_FORM,
                &format!("{name} exact conditional"),
            );
        }
    }
    let exact = &fixture["exact_no_ties"];
    let d = numbers(&exact["d"]);
    let zeros = vec![0.0; d.len()];
    let result = signed_rank(&zeros, &d, Zeros::Wilcox, SignedRankMethod::Exact).unwrap();
    close(
        result.p,
        exact["p"].as_f64().unwrap(),
        CLOSED_FORM,
        "exact without ties",
    );
    // Hedges' J for df = 11: Γ(5.5) / (√5.5 Γ(5)) = 0.9299598099757785.
    close(
        hedges_j(11.0).unwrap(),
        0.9299598099757785,
        CLOSED_FORM,
        "Hedges J",
    );
}

#[test]
fn welch_t_matches_scipy() {
    let fixture = stats_fixture("welch.json");
    let result = welch_t(&numbers(&fixture["a"]), &numbers(&fixture["b"])).unwrap();
    close(result.t, fixture["t"].as_f64().unwrap(), DISTRIBUTION, "t");
    close(
        result.df,
        fixture["df"].as_f64().unwrap(),
        CLOSED_FORM,
        "df",
    );
    close(result.p, fixture["p"].as_f64().unwrap(), DISTRIBUTION, "p");
    close(
        result.ci95[0],
        fixture["ci95"][0].as_f64().unwrap(),
        DISTRIBUTION,
        "ci low",
    );
    close(
        result.ci95[1],
        fixture["ci95"][1].as_f64().unwrap(),
        DISTRIBUTION,
        "ci high",
    );
}

#[test]
fn holm_bh_and_type7_quantiles_match_statsmodels_and_numpy() {
    let fixture = stats_fixture("multiplicity_quantile.json");
    let p = numbers(&fixture["p"]);
    for (actual, expected) in holm(&p).unwrap().iter().zip(numbers(&fixture["holm"])) {
        close(*actual, expected, CLOSED_FORM, "holm");
    }
    for (actual, expected) in benjamini_hochberg(&p)
        .unwrap()
        .iter()
        .zip(numbers(&fixture["bh"]))
    {
        close(*actual, expected, CLOSED_FORM, "bh");
    }
    let q = quantiles(&numbers(&fixture["x"]), &numbers(&fixture["probs"])).unwrap();
    for (actual, expected) in q.iter().zip(numbers(&fixture["quantiles"])) {
        close(*actual, expected, CLOSED_FORM, "quantile");
    }
}

fn design(case: &Value) -> DMatrix<f64> {
    let rows = case["x"].as_array().unwrap();
    let columns = rows[0].as_array().unwrap().len();
    let values: Vec<f64> = rows.iter().flat_map(numbers).collect();
    DMatrix::from_row_slice(rows.len(), columns, &values)
}

/// Checks a fit against statsmodels (`case`) and R (`r`, from glm_r.json).
fn check_fit(fit: &glm::GlmFit, case: &Value, r: &Value, label: &str) {
    for oracle in [&case["coef"], &r["coef"]] {
        for (actual, expected) in fit.coef.iter().zip(numbers(oracle)) {
            close(*actual, expected, IRLS_COEF, &format!("{label} coef"));
        }
    }
    close(
        fit.deviance,
        case["deviance"].as_f64().unwrap(),
        IRLS_COEF,
        &format!("{label} deviance"),
    );
    let compare = |kind: Covariance<'_>, expected: &Value, what: &str| {
        for (actual, expected) in fit
            .standard_errors(&kind)
            .unwrap()
            .iter()
            .zip(numbers(expected))
        {
            close(*actual, expected, IRLS_SE, &format!("{label} {what}"));
        }
    };
    compare(
        Covariance::Model,
        &case["se_model"],
        "model SE (statsmodels)",
    );
    compare(Covariance::Model, &r["se_model"], "model SE (R)");
    // For the non-canonical NB2 log link statsmodels builds robust covariances on the
    // observed information; R's sandwich (and this crate, like glm.nb's vcov) on the expected
    // information, so NB2 sandwiches are checked against R only.
    let canonical = fit.theta().is_none();
    if canonical {
        compare(Covariance::Hc0, &case["se_hc0"], "HC0 (statsmodels)");
        // statsmodels' GLM "HC1" applies no n/(n-k) factor: it equals HC0. Our HC1 is R's.
        compare(
            Covariance::Hc0,
            &case["se_hc1_statsmodels"],
            "statsmodels GLM HC1 = HC0",
        );
    }
    compare(Covariance::Hc1, &r["se_hc1"], "HC1 (R sandwich::vcovHC)");
    if let Some(clusters) = case["clusters"].as_array() {
        let clusters: Vec<u64> = clusters.iter().map(|c| c.as_u64().unwrap()).collect();
        if canonical {
            compare(
                Covariance::Cluster(&clusters),
                &case["se_cluster"],
                "cluster SE (statsmodels)",
            );
        }
        compare(
            Covariance::Cluster(&clusters),
            &r["se_cluster_hc1"],
            "cluster SE (R vcovCL HC1)",
        );
    }
}

#[test]
fn poisson_logistic_and_nb2_glms_match_statsmodels() {
    let fixture = stats_fixture("glm.json");
    let r = stats_fixture("glm_r.json");
    for case in fixture["poisson"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let offset = numbers(&case["offset"]);
        let fit = glm::fit(
            &design(case),
            &numbers(&case["y"]),
            Some(&offset),
            Family::Poisson,
        )
        .unwrap();
        check_fit(&fit, case, &r[format!("poisson_{name}")], name);
    }
    for case in fixture["logistic"].as_array().unwrap() {
        let fit = glm::fit(&design(case), &numbers(&case["y"]), None, Family::Binomial).unwrap();
        check_fit(&fit, case, &r["binomial_propensity"], "logistic");
    }
    for case in fixture["nb2"].as_array().unwrap() {
        let offset = numbers(&case["offset"]);
        let (fit, theta) =
            glm::fit_nb2(&design(case), &numbers(&case["y"]), Some(&offset)).unwrap();
        close(
            theta,
            case["theta"].as_f64().unwrap(),
            IRLS_SE,
            "NB2 theta (statsmodels)",
        );
        close(
            theta,
            r["nb2_did_panel"]["theta"].as_f64().unwrap(),
            IRLS_SE,
            "NB2 theta (MASS::glm.nb)",
        );
        for (actual, expected) in fit.coef.iter().zip(numbers(&case["coef_ml"])) {
            close(*actual, expected, IRLS_COEF, "NB2 joint-ML coef");
        }
        check_fit(&fit, case, &r["nb2_did_panel"], "nb2");
    }
}

#[test]
fn bootstrap_intervals_match_scipy_on_replayed_resamples() {
    let fixture = stats_fixture("bootstrap.json");
    let x = numbers(&fixture["x"]);
    let replicates = numbers(&fixture["replicates"]);
    let mean =
        |indices: &[usize]| indices.iter().map(|&i| x[i]).sum::<f64>() / indices.len() as f64;
    let estimate = mean(&(0..x.len()).collect::<Vec<_>>());
    let jackknife = sp_impact::stats::bootstrap::jackknife(x.len(), mean);
    let bca = bca_interval(&replicates, estimate, &jackknife, 0.95).unwrap();
    let percentile = percentile_interval(&replicates, 0.95).unwrap();
    for (actual, expected, what) in [
        (bca[0], fixture["bca"][0].as_f64().unwrap(), "BCa low"),
        (bca[1], fixture["bca"][1].as_f64().unwrap(), "BCa high"),
        (
            percentile[0],
            fixture["percentile"][0].as_f64().unwrap(),
            "percentile low",
        ),
        (
            percentile[1],
            fixture["percentile"][1].as_f64().unwrap(),
            "percentile high",
        ),
    ] {
        close(actual, expected, DISTRIBUTION, what);
    }
    // The seeded resampler is reproducible and centred on the estimate.
    let first = sp_impact::stats::bootstrap::resample(x.len(), 500, 7, mean).unwrap();
    assert_eq!(
        first,
        sp_impact::stats::bootstrap::resample(x.len(), 500, 7, mean).unwrap()
    );
    let centre = first.iter().sum::<f64>() / first.len() as f64;
    assert!((centre - estimate).abs() < 0.1, "{centre} vs {estimate}");
}

fn fixture_units(fixture: &Value) -> Vec<Unit> {
    fixture["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|unit| Unit {
            id: unit["id"].as_str().unwrap().to_string(),
            treated: unit["treated"].as_bool().unwrap(),
            logit_score: unit["logit"].as_f64().unwrap(),
            stratum: unit["stratum"].as_str().unwrap().to_string(),
        })
        .collect()
}

#[test]
fn greedy_matching_gives_the_reference_match_sets() {
    let fixture = stats_fixture("matching.json");
    let units = fixture_units(&fixture);
    for case in fixture["cases"].as_array().unwrap() {
        let options = MatchOptions {
            ratio: case["ratio"].as_u64().unwrap() as usize,
            caliper_sd: case["caliper_sd"].as_f64().unwrap(),
            caliper_scale: if case["pooled"].as_bool().unwrap() {
                CaliperScale::PooledSd
            } else {
                CaliperScale::AllUnitsSd
            },
        };
        let matching = greedy_match(&units, &options).unwrap();
        close(
            matching.caliper,
            case["caliper"].as_f64().unwrap(),
            CLOSED_FORM,
            "caliper",
        );
        let expected: Vec<(usize, usize)> = case["pairs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|pair| {
                (
                    pair[0].as_u64().unwrap() as usize,
                    pair[1].as_u64().unwrap() as usize,
                )
            })
            .collect();
        assert_eq!(
            matching.pairs, expected,
            "ratio {} caliper {}",
            options.ratio, options.caliper_sd
        );
    }
}

/// Matching invariants on random data: within caliper, no control reused, exact strata, and
/// each treated unit got the nearest control still unused at its turn.
#[test]
fn matching_invariants_hold_on_random_data() {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut rounds_checked = 0;
    for round in 0..40 {
        let units: Vec<Unit> = (0..150 + round * 5)
            .map(|index| {
                let treated = next() < 0.25;
                Unit {
                    id: format!("R{round}-{index}"),
                    treated,
                    // Rounded to 0.01 so equal scores (ties) are common.
                    logit_score: (((if treated { 0.5 } else { -0.5 }) + 2.0 * next() - 1.0)
                        * 100.0)
                        .round()
                        / 100.0,
                    stratum: format!("S{}", (next() * 3.0) as u32),
                }
            })
            .collect();
        let options = MatchOptions {
            ratio: 1 + round % 3,
            caliper_sd: 0.1 + 0.1 * (round % 4) as f64,
            caliper_scale: CaliperScale::PooledSd,
        };
        let Ok(matching) = greedy_match(&units, &options) else {
            continue;
        };
        rounds_checked += usize::from(!matching.pairs.is_empty());
        let mut used = std::collections::HashSet::new();
        for &(t, c) in &matching.pairs {
            assert!(units[t].treated && !units[c].treated);
            assert_eq!(units[t].stratum, units[c].stratum, "exact strata");
            let distance = (units[t].logit_score - units[c].logit_score).abs();
            assert!(distance <= matching.caliper, "within caliper");
            // No unused control of the stratum was strictly nearer at this point.
            for (other, unit) in units.iter().enumerate() {
                if !unit.treated
                    && unit.stratum == units[t].stratum
                    && !used.contains(&other)
                    && other != c
                {
                    assert!(
                        (unit.logit_score - units[t].logit_score).abs() >= distance,
                        "nearest eligible control"
                    );
                }
            }
            assert!(used.insert(c), "control reused");
        }
        let per_treated =
            matching
                .pairs
                .iter()
                .fold(std::collections::HashMap::new(), |mut counts, (t, _)| {
                    *counts.entry(*t).or_insert(0) += 1;
                    counts
                });
        assert!(per_treated.values().all(|count| *count <= options.ratio));
    }
    assert!(
        rounds_checked >= 30,
        "only {rounds_checked} of 40 rounds produced matches to check"
    );
}

#[test]
fn balance_uses_the_treated_sd_from_the_unmatched_sample() {
    // Continuous: SMD = (mean_T - mean_C) / sd_T (unmatched); binary: sqrt(p_T (1 - p_T)).
    let treated = [3.0, 5.0, 7.0];
    let control = [1.0, 2.0, 3.0, 4.0];
    let unweighted = |values: &'static [f64]| Weighted {
        values,
        weights: None,
    };
    let row = balance(
        "x",
        &treated,
        &control,
        &treated,
        &unweighted(&[4.0, 5.0, 6.0]),
    )
    .unwrap();
    close(row.smd_before, (5.0 - 2.5) / 2.0, CLOSED_FORM, "smd before");
    close(row.smd_after, (5.0 - 5.0) / 2.0, CLOSED_FORM, "smd after");
    close(
        row.variance_ratio_before.unwrap(),
        4.0 / (5.0 / 3.0),
        CLOSED_FORM,
        "variance ratio",
    );
    let binary = balance(
        "female",
        &[1.0, 1.0, 0.0, 1.0],
        &[0.0, 1.0, 0.0, 0.0],
        &[1.0, 1.0],
        &unweighted(&[1.0, 0.0]),
    )
    .unwrap();
    close(
        binary.smd_before,
        (0.75 - 0.25) / (0.75f64 * 0.25).sqrt(),
        CLOSED_FORM,
        "binary smd",
    );
    assert_eq!(binary.variance_ratio_before, None);
    // Matched controls weighted 1/k: one set with one control (4), one with two (6 and 8).
    // Weighted mean (4 + 3 + 4) / 2 = 5.5; reliability-weighted variance
    // (2.25 + 0.125 + 3.125) x 2 / (2² - 1.5) = 4.4.
    let weighted = balance(
        "x",
        &treated,
        &control,
        &treated,
        &Weighted {
            values: &[4.0, 6.0, 8.0],
            weights: Some(&[1.0, 0.5, 0.5]),
        },
    )
    .unwrap();
    close(
        weighted.smd_after,
        (5.0 - 5.5) / 2.0,
        CLOSED_FORM,
        "weighted smd",
    );
    close(
        weighted.variance_ratio_after.unwrap(),
        4.0 / 4.4,
        CLOSED_FORM,
        "weighted variance ratio",
    );
}

#[test]
fn firth_logistic_matches_firthmodels_including_under_separation() {
    let fixture = stats_fixture("glm_firth.json");
    for case in fixture["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        // The fixture's x has no intercept column.
        let slopes = design(case);
        let mut x = DMatrix::from_element(slopes.nrows(), slopes.ncols() + 1, 1.0);
        x.columns_mut(1, slopes.ncols()).copy_from(&slopes);
        let y = numbers(&case["y"]);
        if name == "complete_separation" {
            // Maximum likelihood has no finite estimate here: refused, not a huge number.
            assert_eq!(
                glm::fit(&x, &y, None, glm::Family::Binomial).unwrap_err(),
                sp_impact::stats::StatsError::Separation,
                "{name}"
            );
        }
        let fit = glm::fit_firth_logistic(&x, &y).unwrap();
        for (actual, expected) in fit.coef.iter().zip(numbers(&case["coef"])) {
            close(*actual, expected, 1e-7, &format!("Firth {name} coef"));
        }
    }
}

#[test]
fn minimum_detectable_effect_multipliers_match_scipy() {
    let fixture = stats_fixture("power.json");
    for case in fixture["cases"].as_array().unwrap() {
        let df = case["df"].as_f64();
        let multiplier = sp_impact::stats::power::mde_multiplier(
            case["alpha"].as_f64().unwrap(),
            case["power"].as_f64().unwrap(),
            df,
        );
        close(
            multiplier,
            case["multiplier"].as_f64().unwrap(),
            1e-9,
            &format!("M, df {df:?}"),
        );
    }
    // The rate ratios either side of 1 are exp(-/+ M x SE).
    let [lower, higher] = sp_impact::stats::power::minimum_detectable_rate_ratios(0.1, None);
    close(lower, (-0.28015852181129683f64).exp(), 1e-9, "lower");
    close(higher, 0.28015852181129683f64.exp(), 1e-9, "higher");
}

#[test]
fn prior_weights_match_statsmodels_var_weights_with_cluster_robust_errors() {
    let fixture = stats_fixture("weighted_glm.json");
    let x = design(&fixture);
    let groups: Vec<u64> = numbers(&fixture["groups"])
        .into_iter()
        .map(|g| g as u64)
        .collect();
    let fit = glm::fit_weighted(
        &x,
        &numbers(&fixture["y"]),
        Some(&numbers(&fixture["offset"])),
        Some(&numbers(&fixture["weights"])),
        Family::Poisson,
    )
    .unwrap();
    for (actual, expected) in fit.coef.iter().zip(numbers(&fixture["coef"])) {
        close(*actual, expected, IRLS_COEF, "weighted coefficient");
    }
    let se = fit.standard_errors(&Covariance::Cluster(&groups)).unwrap();
    for (actual, expected) in se.iter().zip(numbers(&fixture["se_cluster"])) {
        close(*actual, expected, IRLS_SE, "weighted cluster-robust SE");
    }
    // R's glm(weights = ) with sandwich::vcovCL(type = "HC1"), the same fit.
    let r = stats_fixture("weighted_glm_r.json");
    for (actual, expected) in fit.coef.iter().zip(numbers(&r["coef"])) {
        close(*actual, expected, IRLS_COEF, "weighted coefficient (R)");
    }
    for (actual, expected) in se.iter().zip(numbers(&r["se_cluster_hc1"])) {
        close(*actual, expected, IRLS_SE, "weighted cluster-robust SE (R)");
    }
    // Negative or mismatched weights are refused, never fitted.
    let mut negative = numbers(&fixture["weights"]);
    negative[0] = -1.0;
    assert!(
        glm::fit_weighted(
            &x,
            &numbers(&fixture["y"]),
            None,
            Some(&negative),
            Family::Poisson
        )
        .is_err()
    );
    assert!(
        glm::fit_weighted(
            &x,
            &numbers(&fixture["y"]),
            None,
            Some(&[1.0]),
            Family::Poisson
        )
        .is_err()
    );
}

#[test]
fn subgroup_interaction_wald_test_matches_statsmodels() {
    let fixture = stats_fixture("wald.json");
    let x = design(&fixture);
    let contrast_rows: Vec<Vec<f64>> = fixture["contrast"]
        .as_array()
        .unwrap()
        .iter()
        .map(numbers)
        .collect();
    let contrast = DMatrix::from_fn(contrast_rows.len(), contrast_rows[0].len(), |i, j| {
        contrast_rows[i][j]
    });
    let groups: Vec<u64> = numbers(&fixture["groups"])
        .into_iter()
        .map(|g| g as u64)
        .collect();
    let fit = glm::fit(
        &x,
        &numbers(&fixture["y"]),
        Some(&numbers(&fixture["offset"])),
        Family::Poisson,
    )
    .unwrap();
    for (actual, expected) in fit.coef.iter().zip(numbers(&fixture["coef"])) {
        close(*actual, expected, IRLS_COEF, "coefficient");
    }
    let test = fit
        .wald_test(&contrast, &Covariance::Cluster(&groups))
        .unwrap();
    assert_eq!(test.df as u64, fixture["df"].as_u64().unwrap());
    close(
        test.statistic,
        fixture["statistic"].as_f64().unwrap(),
        IRLS_SE,
        "Wald statistic",
    );
    close(
        test.p,
        fixture["pvalue"].as_f64().unwrap(),
        IRLS_SE,
        "Wald p",
    );
}

#[test]
fn event_study_contrasts_and_pre_trend_test_match_statsmodels() {
    use sp_impact::stats::event_study::{CellSums, event_study};
    let fixture = stats_fixture("event_study.json");
    let months = fixture["months"].as_u64().unwrap() as usize;
    let rows = fixture["rows"].as_array().unwrap();
    // Per-set sums per cell: all the model needs.
    let mut by_set: std::collections::BTreeMap<u64, Vec<CellSums>> = Default::default();
    for row in rows {
        let cells = by_set
            .entry(row["set"].as_u64().unwrap())
            .or_insert_with(|| vec![CellSums::default(); 2 * months]);
        let cell = &mut cells[row["cell"].as_u64().unwrap() as usize];
        cell.exposure += row["years"].as_f64().unwrap();
        cell.events += row["events"].as_f64().unwrap();
    }
    let clusters: Vec<Vec<CellSums>> = by_set.into_values().collect();
    let pre: Vec<usize> = numbers(&fixture["pre"])
        .iter()
        .map(|m| *m as usize)
        .collect();
    let study = event_study(
        &clusters,
        months,
        rows.len(),
        fixture["reference"].as_u64().unwrap() as usize,
        &pre,
        -3,
    )
    .unwrap();
    let expected = numbers(&fixture["contrasts"]);
    let expected_se = numbers(&fixture["standard_errors"]);
    for (month, (estimate, se)) in study.contrasts.iter().enumerate() {
        close(
            *estimate,
            expected[month],
            IRLS_COEF,
            &format!("contrast {month}"),
        );
        close(*se, expected_se[month], IRLS_SE, &format!("SE {month}"));
    }
    let pre_trend = study.pre_trend.unwrap();
    assert_eq!(pre_trend.df as u64, fixture["wald_df"].as_u64().unwrap());
    close(
        pre_trend.statistic,
        fixture["wald_statistic"].as_f64().unwrap(),
        IRLS_SE,
        "pre-trend Wald",
    );
    close(
        pre_trend.p,
        fixture["wald_p"].as_f64().unwrap(),
        IRLS_SE,
        "pre-trend p",
    );
}

/// Funnel-plot limits: Spiegelhalter's interpolated exact binomial limits, against R's
/// `qbinom`/`pbinom` (a limit below 0, where the quantile is 0, is held at 0).
#[test]
fn funnel_plot_limits_match_r() {
    let fixture = stats_fixture("funnel.json");
    let cases = fixture["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 60);
    for case in cases {
        let n = case["n"].as_u64().unwrap();
        let (theta, p) = (case["theta"].as_f64().unwrap(), case["p"].as_f64().unwrap());
        let expected = case["limit"].as_f64().unwrap().clamp(0.0, 1.0);
        let actual = sp_impact::stats::funnel::binomial_limit(n, theta, p).unwrap();
        close(
            actual,
            expected,
            DISTRIBUTION,
            &format!("n {n} theta {theta} p {p}"),
        );
    }
}
