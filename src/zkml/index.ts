/**
 * ZKML: compile small ONNX MLPs to sound circom Groth16 circuits, evaluate them bit-exactly, set up, prove and
 * verify. See docs/zk-setup.md.
 */
export * from "./errors";
export * from "./onnx";
export * from "./onnx-writer";
export * from "./mlp";
export * from "./quantize";
export * from "./reference";
export * from "./circom";
export * from "./setup";
export * from "./pipeline";
export * from "./prover";
export * from "./commitments";
export * from "./claim";
export * from "./job";
export * from "./package";
export * from "./deploy";
export * from "./verify-setup";
export * from "./solidity";
export * from "./field";
export { calculateWitness, type CircuitInput } from "./witness";
export { findViolatedConstraints, loadR1cs, type R1cs } from "./r1cs-check";
