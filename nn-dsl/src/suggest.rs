//! "Did you mean": the candidate closest to a misspelt word.

/// The candidate closest to `word` (compared in lower case) within a typo's distance.
pub fn closest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let lower = word.to_lowercase();
    candidates
        .map(|k| (edit_distance(&lower, &k.to_lowercase()), k))
        .filter(|&(d, k)| d <= (k.len() / 3).max(1))
        .min_by_key(|&(d, _)| d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, &cb) in b.iter().enumerate() {
            cur.push(
                (prev[j] + usize::from(ca != cb))
                    .min(prev[j + 1] + 1)
                    .min(cur[j] + 1),
            );
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_within_a_third_of_the_word() {
        let words = ["Dense", "Conv2d", "Embedding"];
        assert_eq!(closest("Dence", words.into_iter()), Some("Dense"));
        assert_eq!(closest("conv2D", words.into_iter()), Some("Conv2d"));
        assert_eq!(closest("Embeding", words.into_iter()), Some("Embedding"));
        assert_eq!(closest("Transformer", words.into_iter()), None);
    }
}
