pragma circom 2.1.0;

include "range.circom";

// out = floor(in / 2^s), followed by max(., 0) when relu == 1.
//
// Precondition (established by the compiler's interval analysis): -2^(k-1+s) <= in < 2^(k-1+s).
// Soundness: with off = 2^(k-1+s), the prover supplies qs and r with in + off == qs * 2^s + r, and both are
// range checked: 0 <= r < 2^s and 0 <= qs < 2^k. As integers qs * 2^s + r < 2^(k+s) < p, so exactly one
// pair (qs, r) satisfies the equation in the field, and q = qs - 2^(k-1) is the floor quotient.
// The sign of q is bit k-1 of qs (qs >= 2^(k-1) iff q >= 0), so ReLU reuses that decomposition.
template Rescale(s, k, relu) {
    assert(s >= 1 && k >= 2 && k + s <= 252);
    signal input in;
    signal output out;

    var off = 2 ** (k - 1 + s);
    signal qs;
    signal r;
    qs <-- (in + off) \ (2 ** s);
    r <-- (in + off) % (2 ** s);
    in + off === qs * (2 ** s) + r;

    component rRange = RangeCheck(s);
    rRange.in <== r;
    component qRange = RangeCheck(k);
    qRange.in <== qs;

    if (relu == 1) {
        out <== (qs - 2 ** (k - 1)) * qRange.bits[k - 1];
    } else {
        out <== qs - 2 ** (k - 1);
    }
}
