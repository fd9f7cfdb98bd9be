//! "Did you mean" suggestions for mistyped names.

/// Returns the candidate closest to `input` by case-insensitive edit distance, if it is
/// close enough to be a plausible typo (at most a third of the input's length, and at
/// least one edit allowed).
pub(crate) fn closest<'a>(input: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let input = input.to_lowercase();
    let budget = (input.chars().count() / 3).max(1);
    let mut best: Option<(usize, &'a str)> = None;
    for candidate in candidates {
        let distance = edit_distance(&input, &candidate.to_lowercase());
        if distance <= budget && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, name)| name)
}

/// Levenshtein distance over chars, with one reused row.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("enter", "entr"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn picks_the_nearest_plausible_candidate() {
        let names = ["Enter", "Escape", "End"];
        assert_eq!(closest("entr", names.iter().copied()), Some("Enter"));
        assert_eq!(closest("ESCAPEE", names.iter().copied()), Some("Escape"));
        assert_eq!(closest("zzzzzz", names.iter().copied()), None);
    }
}
