//! The event study as a regression: a saturated Poisson model of counts with one rate per
//! group and month (log exposure offset), cluster-robust by matched set, and per month the
//! contrast (treated - comparison log rate) minus the same contrast in a reference month, with
//! the joint Wald test that the contrasts of a set of pre-period months are all zero.
//!
//! With one parameter per cell the maximum-likelihood fit is closed-form (each cell's rate is
//! its events over its exposure) and the sandwich needs only each cluster's events and
//! exposure per cell, so the model is computed from per-set sums instead of by IRLS on
//! person-month rows. Equal to statsmodels' Poisson GLM with one dummy per cell, an offset
//! and `cov_type="cluster"` (fixture `tests/fixtures/stats/event_study.json`).
//!
//! Cells are indexed `group * months + month` (group 0 comparison, 1 treated). Bread:
//! (X'WX)^-1 = diag(1 / Y_c); cluster score of cell c: Y_gc - E_gc * lambda_c; covariance
//! factor G/(G-1) x (N-1)/(N-K), N the observation rows and K the 2 x months parameters.

use nalgebra::{DMatrix, DVector};
use statrs::distribution::{ChiSquared, ContinuousCDF};

use super::glm::WaldTest;
use super::{StatsError, StatsResult};

/// Events and exposure of one cluster in one cell.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CellSums {
    pub exposure: f64,
    pub events: f64,
}

/// Per month: the log rate-ratio contrast against the reference month and its
/// cluster-robust standard error (0 and 0 for the reference itself); and the pre-trend test
/// (None when no pre-period month is given).
#[derive(Debug, Clone, PartialEq)]
pub struct EventStudy {
    pub contrasts: Vec<(f64, f64)>,
    pub pre_trend: Option<WaldTest>,
}

/// `clusters[g][c]`: cluster g's sums in cell c (2 x `months` cells); `rows`: the number of
/// observation rows behind them (for the small-sample factor); `reference` and `pre`: month
/// indices; `first_month`: the relative month of index 0 (for messages). A cell without
/// events has no finite rate, so the model is not estimable.
pub fn event_study(
    clusters: &[Vec<CellSums>],
    months: usize,
    rows: usize,
    reference: usize,
    pre: &[usize],
    first_month: i64,
) -> StatsResult<EventStudy> {
    let cells = 2 * months;
    if clusters.iter().any(|cluster| cluster.len() != cells) {
        return Err(StatsError::Invalid(
            "every cluster needs a sum per cell".into(),
        ));
    }
    if reference >= months
        || pre
            .iter()
            .any(|&month| month >= months || month == reference)
    {
        return Err(StatsError::Invalid("months out of range".into()));
    }
    let mut totals = vec![CellSums::default(); cells];
    for cluster in clusters {
        for (total, cell) in totals.iter_mut().zip(cluster) {
            total.exposure += cell.exposure;
            total.events += cell.events;
        }
    }
    if let Some(empty) = totals.iter().position(|total| total.events <= 0.0) {
        return Err(StatsError::TooFewEvents {
            cell: format!(
                "{} group's month {} of the event study",
                if empty >= months {
                    "treated"
                } else {
                    "comparison"
                },
                (empty % months) as i64 + first_month
            ),
            events: totals[empty].events,
            needed: 1,
        });
    }
    let rate: Vec<f64> = totals.iter().map(|t| t.events / t.exposure).collect();
    let log_rate: Vec<f64> = rate.iter().map(|r| r.ln()).collect();
    let contrast_of = |month: usize| {
        (log_rate[months + month] - log_rate[month])
            - (log_rate[months + reference] - log_rate[reference])
    };
    // Each cluster's bread-scaled scores, and from them its score for each month's contrast.
    let groups = clusters.len() as f64;
    let (n, k) = (rows as f64, cells as f64);
    if groups < 2.0 || n <= k {
        return Err(StatsError::TooFew {
            needed: 2,
            got: clusters.len(),
        });
    }
    let factor = groups / (groups - 1.0) * (n - 1.0) / (n - k);
    let contrast_scores: Vec<Vec<f64>> = clusters
        .iter()
        .map(|cluster| {
            let scaled = |cell: usize| {
                (cluster[cell].events - cluster[cell].exposure * rate[cell]) / totals[cell].events
            };
            (0..months)
                .map(|month| {
                    scaled(months + month) - scaled(month) - scaled(months + reference)
                        + scaled(reference)
                })
                .collect()
        })
        .collect();
    let contrasts: Vec<(f64, f64)> = (0..months)
        .map(|month| {
            let variance: f64 = factor
                * contrast_scores
                    .iter()
                    .map(|s| s[month] * s[month])
                    .sum::<f64>();
            (contrast_of(month), variance.max(0.0).sqrt())
        })
        .collect();
    if pre.is_empty() {
        return Ok(EventStudy {
            contrasts,
            pre_trend: None,
        });
    }
    let estimates = DVector::from_iterator(pre.len(), pre.iter().map(|&m| contrast_of(m)));
    let scores = DMatrix::from_fn(clusters.len(), pre.len(), |g, j| contrast_scores[g][pre[j]]);
    let covariance = (scores.transpose() * &scores) * factor;
    let inverse = covariance.try_inverse().ok_or(StatsError::Singular)?;
    let statistic = (estimates.transpose() * inverse * &estimates)[(0, 0)];
    let p = ChiSquared::new(pre.len() as f64)
        .map_err(|error| StatsError::Invalid(error.to_string()))?
        .sf(statistic);
    Ok(EventStudy {
        contrasts,
        pre_trend: Some(WaldTest {
            statistic,
            df: pre.len(),
            p,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells(events: f64) -> Vec<CellSums> {
        vec![
            CellSums {
                exposure: 1.0,
                events,
            };
            4
        ]
    }

    #[test]
    fn a_month_without_events_is_not_estimable_and_names_its_month() {
        let mut empty = cells(2.0);
        empty[3].events = 0.0;
        let clusters = vec![empty.clone(), empty];
        let error = event_study(&clusters, 2, 100, 0, &[], -1).unwrap_err();
        assert!(
            error.to_string().contains("treated group's month 0"),
            "{error}"
        );
    }

    #[test]
    fn equal_paths_give_contrasts_of_zero_and_no_test_without_pre_months() {
        let clusters = vec![cells(2.0), cells(3.0), cells(5.0)];
        let study = event_study(&clusters, 2, 100, 0, &[], -1).unwrap();
        assert!(
            study
                .contrasts
                .iter()
                .all(|(estimate, _)| estimate.abs() < 1e-12)
        );
        assert_eq!(study.pre_trend, None);
    }
}
