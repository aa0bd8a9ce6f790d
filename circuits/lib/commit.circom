pragma circom 2.1.0;

include "poseidon.circom";

// Salted commitment to a fixed-length vector: state = salt; for each chunk of up to 15 values,
// state = Poseidon(state, chunk...). The salt is private and random, so a low-entropy vector cannot be
// recovered by hashing candidates.
template VectorCommit(n) {
    signal input salt;
    signal input in[n];
    signal output out;

    var chunks = (n + 14) \ 15;
    component h[chunks];
    for (var c = 0; c < chunks; c++) {
        var len = n - 15 * c;
        if (len > 15) {
            len = 15;
        }
        h[c] = Poseidon(len + 1);
        if (c == 0) {
            h[c].inputs[0] <== salt;
        } else {
            h[c].inputs[0] <== h[c - 1].out;
        }
        for (var i = 0; i < len; i++) {
            h[c].inputs[1 + i] <== in[15 * c + i];
        }
    }
    out <== h[chunks - 1].out;
}
