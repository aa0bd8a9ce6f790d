pragma circom 2.1.0;

include "bitify.circom";

// Constrains 0 <= in < 2^n. Num2Bits(n) fixes n boolean bits whose weighted sum equals `in`; with n <= 252
// that sum is < 2^252 < p, so it cannot alias a field element >= 2^n (no AliasCheck needed). The bound on n
// is a compile-time parameter check, not a witness check.
template RangeCheck(n) {
    assert(n >= 1 && n <= 252);
    signal input in;
    signal output bits[n];
    component b = Num2Bits(n);
    b.in <== in;
    bits <== b.out;
}

// Constrains -2^n <= in < 2^n (a signed range check).
template SignedRangeCheck(n) {
    signal input in;
    component r = RangeCheck(n + 1);
    r.in <== in + 2 ** n;
}
