//! Dead-key composition on Windows: which character a dead key followed by a base key
//! produces. (Linux dead keys follow libX11's Compose table instead; see `compose.rs`.)
//!
//! A dead key is named by the spacing character it types when followed by Space (`^`,
//! `´`, `¨`, ...). The generic tables below cover the Latin-1 and Latin Extended-A
//! letters that carry each accent; a layout adds its own exceptions with `compose` lines
//! (see the table format in `table.rs`).

/// Letter pairs `base, composed` for each accent, keyed by the dead key's spacing
/// character. Ring above and ogonek appear under both spellings layouts use.
const ACCENTS: &[(char, &str)] = &[
    ('^', "aâAÂcĉCĈeêEÊgĝGĜhĥHĤiîIÎjĵJĴoôOÔsŝSŜuûUÛwŵWŴyŷYŶ"),
    ('´', "aáAÁcćCĆeéEÉiíIÍlĺLĹnńNŃoóOÓrŕRŔsśSŚuúUÚyýYÝzźZŹ"),
    ('`', "aàAÀeèEÈiìIÌoòOÒuùUÙ"),
    ('¨', "aäAÄeëEËiïIÏoöOÖuüUÜyÿYŸ"),
    ('~', "aãAÃiĩIĨnñNÑoõOÕuũUŨ"),
    ('ˇ', "cčCČdďDĎeěEĚlľLĽnňNŇrřRŘsšSŠtťTŤzžZŽ"),
    ('˘', "aăAĂgğGĞuŭUŬ"),
    ('°', "aåAÅuůUŮ"),
    ('˚', "aåAÅuůUŮ"),
    ('¸', "cçCÇgģGĢkķKĶlļLĻnņNŅrŗRŖsşSŞtţTŢ"),
    ('˛', "aąAĄeęEĘiįIĮuųUŲ"),
    ('˝', "oőOŐuűUŰ"),
    ('˙', "cċCĊeėEĖgġGĠIİzżZŻ"),
    ('¯', "aāAĀeēEĒiīIĪoōOŌuūUŪ"),
];

/// Every `(base, composed)` pair the generic table has for the dead key `dead`.
pub(crate) fn generic_pairs(dead: char) -> impl Iterator<Item = (char, char)> {
    let letters = ACCENTS
        .iter()
        .find(|(spacing, _)| *spacing == dead)
        .map_or("", |(_, letters)| letters);
    let mut chars = letters.chars();
    std::iter::from_fn(move || Some((chars.next()?, chars.next()?)))
}

/// Whether the generic table knows the dead key `dead`.
pub(crate) fn is_known_accent(dead: char) -> bool {
    ACCENTS.iter().any(|(spacing, _)| *spacing == dead)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_well_formed() {
        for (dead, letters) in ACCENTS {
            assert_eq!(letters.chars().count() % 2, 0, "{dead}");
            for (base, composed) in generic_pairs(*dead) {
                assert!(base.is_ascii_alphabetic(), "{dead}: {base}");
                assert!(!composed.is_ascii(), "{dead}: {composed}");
                let upper = base.is_ascii_uppercase();
                assert_eq!(composed.is_uppercase(), upper, "{dead}: {base}{composed}");
            }
        }
        assert_eq!(
            generic_pairs('^').find(|&(b, _)| b == 'e'),
            Some(('e', 'ê'))
        );
        assert_eq!(generic_pairs('?').count(), 0);
    }
}
