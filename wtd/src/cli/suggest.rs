//! "Did you mean": names a small edit away from one typed.
//!
//! A typo'd node name (`alcie`) is not a missing key: the command says there is no such
//! node and names the close ones online. Close means at most two single-letter edits
//! (insert, delete, replace, or swap two neighbours), fewer for short names.

/// The names in `known` close to `typed`, closest first, at most three.
pub(super) fn close_names<'a>(
    typed: &str,
    known: impl IntoIterator<Item = &'a str>,
) -> Vec<String> {
    let limit = if typed.chars().count() <= 3 { 1 } else { 2 };
    let mut close: Vec<(usize, &str)> = known
        .into_iter()
        .filter(|name| *name != typed)
        .map(|name| (distance(typed, name), name))
        .filter(|(d, _)| *d <= limit)
        .collect();
    close.sort();
    close
        .into_iter()
        .take(3)
        .map(|(_, n)| n.to_string())
        .collect()
}

/// The optimal string alignment distance: edits to turn `a` into `b`, where swapping two
/// neighbouring letters counts as one edit (`alcie` → `alice`).
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_swapped_or_missing_letter_is_close_a_different_name_is_not() {
        let online = ["alice", "bob", "carol", "alicia"];
        assert_eq!(close_names("alcie", online), ["alice", "alicia"]);
        assert_eq!(close_names("alce", online), ["alice"]);
        assert_eq!(close_names("bb", online), ["bob"]);
        assert!(close_names("dave", online).is_empty());
        assert_eq!(distance("alice", "alice"), 0);
    }
}
