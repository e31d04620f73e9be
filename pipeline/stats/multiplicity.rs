//! Multiple-comparison adjustment (docs/methods.md, Wellbeing): Holm (family-wise error) and
//! Benjamini-Hochberg (false discovery rate). Note statsmodels' default is Holm-Sidak; these
//! are the plain Holm and BH of R's `p.adjust`.

use super::{StatsError, StatsResult};

fn order(p: &[f64]) -> StatsResult<Vec<usize>> {
    if p.iter().any(|value| !(0.0..=1.0).contains(value)) {
        return Err(StatsError::Invalid("p-values must be in 0..1".into()));
    }
    let mut order: Vec<usize> = (0..p.len()).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]).then(a.cmp(&b)));
    Ok(order)
}

/// Holm: p_(i) adjusted = max over j <= i of min(1, (m - j + 1) p_(j)).
pub fn holm(p: &[f64]) -> StatsResult<Vec<f64>> {
    let order = order(p)?;
    let m = p.len() as f64;
    let mut adjusted = vec![0.0; p.len()];
    let mut running: f64 = 0.0;
    for (rank, &index) in order.iter().enumerate() {
        running = running.max(((m - rank as f64) * p[index]).min(1.0));
        adjusted[index] = running;
    }
    Ok(adjusted)
}

/// Benjamini-Hochberg: p_(i) adjusted = min over j >= i of min(1, m p_(j) / j).
pub fn benjamini_hochberg(p: &[f64]) -> StatsResult<Vec<f64>> {
    let order = order(p)?;
    let m = p.len() as f64;
    let mut adjusted = vec![0.0; p.len()];
    let mut running: f64 = 1.0;
    for (rank, &index) in order.iter().enumerate().rev() {
        running = running.min((m * p[index] / (rank + 1) as f64).min(1.0));
        adjusted[index] = running;
    }
    Ok(adjusted)
}
