//! Mouse and pointer reports.

use nanokvm_hid::{AbsolutePosition, AbsoluteReport, MouseButtons, RelativeReport};
use proptest::prelude::*;

#[test]
fn button_names() {
    let table = [
        ("left", 0x01),
        ("Right", 0x02),
        ("middle", 0x04),
        ("back", 0x08),
        ("forward", 0x10),
    ];
    for (name, bits) in table {
        assert_eq!(
            MouseButtons::from_name(name),
            Some(MouseButtons::from_bits(bits))
        );
    }
    assert_eq!(MouseButtons::from_name("sideways"), None);
}

#[test]
fn scroll_is_split() {
    let reports = RelativeReport::scroll(MouseButtons::NONE, -300);
    assert_eq!(reports.len(), 3);
    assert_eq!(
        reports.iter().map(|r| i32::from(r.wheel)).sum::<i32>(),
        -300
    );
    assert!(reports.iter().all(|r| r.dx == 0 && r.dy == 0));
}

proptest! {
    #[test]
    fn relative_moves_add_up_and_fit(dx in -100_000i32..100_000, dy in -100_000i32..100_000) {
        let moves = RelativeReport::moves(MouseButtons::LEFT, dx, dy);
        let x: i64 = moves.iter().map(|m| i64::from(m.dx)).sum();
        let y: i64 = moves.iter().map(|m| i64::from(m.dy)).sum();
        prop_assert_eq!((x, y), (i64::from(dx), i64::from(dy)));
        prop_assert!(moves.iter().all(|m| m.dx != i8::MIN && m.dy != i8::MIN));
        prop_assert!(moves.iter().all(|m| m.buttons == MouseButtons::LEFT));
        let minimum = (dx.unsigned_abs().max(dy.unsigned_abs())).div_ceil(127).max(1);
        prop_assert_eq!(moves.len(), minimum as usize);
    }

    #[test]
    fn absolute_positions_stay_in_range(x in any::<f64>(), y in any::<f64>()) {
        match AbsolutePosition::from_normalized(x, y) {
            Ok(p) => {
                prop_assert!(p.x() <= AbsolutePosition::MAX && p.y() <= AbsolutePosition::MAX);
                prop_assert!(x.is_finite() && y.is_finite());
            }
            Err(_) => prop_assert!(!x.is_finite() || !y.is_finite()),
        }
    }

    #[test]
    fn pixel_positions_are_monotonic(a in 0u32..4000, b in 0u32..4000, w in 1u32..4000) {
        let (lo, hi) = (a.min(b), a.max(b));
        let p = AbsolutePosition::from_pixels(lo, 0, w, 1).unwrap();
        let q = AbsolutePosition::from_pixels(hi, 0, w, 1).unwrap();
        prop_assert!(p.x() <= q.x());
    }

    #[test]
    fn absolute_reports_round_trip(bytes in proptest::array::uniform6(any::<u8>())) {
        let report = AbsoluteReport::from_bytes(&bytes).unwrap();
        let again = AbsoluteReport::from_bytes(&report.to_bytes()).unwrap();
        prop_assert_eq!(report, again);
    }
}
