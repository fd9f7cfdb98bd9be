//! Spot checks for the layouts gb, de-ch, fr, fr-ch, be, es, it, pt and br.
