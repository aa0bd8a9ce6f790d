pragma circom 2.1.0;

include "range.circom";

// index = the first index of the maximum of in[n]; max = in[index].
//
// Precondition: every in[i] lies in [-2^(k-1), 2^(k-1)), so every difference max - in[i] lies in (-2^k, 2^k).
// A one-hot selector picks the index; then max - in[i] - before[i] is range checked in [0, 2^k), where
// before[i] = 1 iff the chosen index is after i. So max >= in[i] for all i, and max > in[i] for every i before
// the chosen index: the first maximum is the only accepted answer (no freedom on ties).
template ArgMax(n, k) {
    assert(n >= 1 && k + 1 <= 252);
    signal input in[n];
    signal output index;
    signal output max;

    var best = 0;
    for (var i = 1; i < n; i++) {
        if (in[i] > in[best]) {
            best = i;
        }
    }
    signal sel[n];
    signal picked[n];
    var selSum = 0;
    var idxSum = 0;
    var maxSum = 0;
    for (var i = 0; i < n; i++) {
        sel[i] <-- i == best ? 1 : 0;
        sel[i] * (sel[i] - 1) === 0;
        picked[i] <== sel[i] * in[i];
        selSum += sel[i];
        idxSum += i * sel[i];
        maxSum += picked[i];
    }
    selSum === 1;
    index <== idxSum;
    max <== maxSum;

    component diff[n];
    var after = 0;
    for (var i = n - 1; i >= 0; i--) {
        // `after` is the sum of sel[j] for j > i: 1 iff the chosen index comes after i.
        diff[i] = RangeCheck(k);
        diff[i].in <== max - in[i] - after;
        after += sel[i];
    }
}
