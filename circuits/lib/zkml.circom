pragma circom 2.1.0;

// The gadgets generated model circuits use. Compile with `-l circuits/lib -l node_modules/circomlib/circuits`.
include "range.circom";
include "fixedpoint.circom";
include "argmax.circom";
include "commit.circom";
