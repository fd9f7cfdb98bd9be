//! Spot checks for the layouts se, no, dk, fi, pl, cz, hu and jp.
