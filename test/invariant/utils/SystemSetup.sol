// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";

import {IJobEscrow} from "../../../contracts/interfaces/IJobEscrow.sol";
import {IModelRegistry} from "../../../contracts/interfaces/IModelRegistry.sol";
import {INodeStaking} from "../../../contracts/interfaces/INodeStaking.sol";
import {JobEscrow} from "../../../contracts/escrow/JobEscrow.sol";
import {NodeStaking} from "../../../contracts/staking/NodeStaking.sol";
import {ModelRegistry} from "../../../contracts/registry/ModelRegistry.sol";
import {VanillaVerifier} from "../../../contracts/verifiers/VanillaVerifier.sol";
import {Groth16VerifierFactory} from "../../../contracts/verifiers/zk/Groth16VerifierFactory.sol";
import {ZkInferenceVerifier} from "../../../contracts/verifiers/zk/ZkInferenceVerifier.sol";
import {TestToken} from "../../../contracts/mocks/TestToken.sol";
import {ModesLib} from "../../../contracts/types/Ids.sol";
import {TeeVerifierHarness} from "./TeeVerifierHarness.sol";
import {TrapdoorGroth16Lib} from "./TrapdoorGroth16Lib.sol";

/// @title SystemSetup
/// @notice Deploys and wires the protocol as `deploy/system.ts` does, without Hardhat: token, timelock, verifier
/// factory, registry, staking, escrow (forge deploys and links `SettlementLib`), verifiers; the escrow as stake
/// locker; governance handed to the timelock. The TEE verifier is its test harness (`TeeVerifierHarness`), so that
/// handlers register enclaves without quotes. The ZK verifier's circuit key is a trapdoor key (see
/// `TrapdoorGroth16Lib`), deployed through the real factory, so the handlers can prove ZK results.
abstract contract SystemSetup {
    uint256 internal constant TOKEN = 1e18;
    uint256 internal constant TIMELOCK_DELAY = 60;
    bytes32 internal constant MEASUREMENT = keccak256("dev-enclave-measurement-v1");

    TestToken internal token;
    TimelockController internal timelock;
    Groth16VerifierFactory internal verifierFactory;
    ModelRegistry internal registry;
    NodeStaking internal staking;
    JobEscrow internal escrow;
    VanillaVerifier internal vanilla;
    TeeVerifierHarness internal tee;
    ZkInferenceVerifier internal zk;
    /// @notice The factory's Groth16 verifier of the trapdoor key, and that key's hash (the ZK binding).
    address internal groth16;
    bytes32 internal vkHash;

    /// @dev Deploys and wires everything with this contract as temporary admin (of the timelock too); call
    /// `_handOver` once the roles the test needs are granted.
    function _deploySystem() internal {
        token = new TestToken();
        address[] memory proposers = new address[](0);
        address[] memory executors = new address[](1); // address(0): anyone may execute a ready operation
        timelock = new TimelockController(TIMELOCK_DELAY, proposers, executors, address(this));
        verifierFactory = new Groth16VerifierFactory();
        registry = new ModelRegistry(verifierFactory);
        staking = new NodeStaking(
            token,
            address(this),
            INodeStaking.Parameters({minimumStake: uint128(100 * TOKEN), thawingPeriod: 7 days, maxSlashBps: 10_000})
        );
        escrow = new JobEscrow(
            registry,
            staking,
            address(timelock),
            address(this),
            IJobEscrow.Parameters({
                minCollateral: uint96(TOKEN),
                protocolFeeBps: 500,
                slashBeneficiaryBps: 5_000,
                minDuration: 30,
                maxDuration: 30 days,
                revealPeriod: 600,
                maxCallbackGas: 500_000,
                maxCollateralRatio: 20,
                usageFeeFloor: 1e15
            })
        );
        vanilla = new VanillaVerifier();
        tee = new TeeVerifierHarness(registry, address(this));
        zk = new ZkInferenceVerifier(registry);
        uint256[18] memory key = TrapdoorGroth16Lib.key();
        groth16 = verifierFactory.deploy(key);
        vkHash = keccak256(abi.encode(key));

        staking.addStakeLocker(address(escrow));
        escrow.setVerifier(ModesLib.VANILLA, address(vanilla));
        escrow.setVerifier(ModesLib.TEE, address(tee));
        escrow.setVerifier(ModesLib.ZK, address(zk));
    }

    /// @dev `proposer` proposes to the timelock and `guardian` pauses; the timelock becomes the only admin of
    /// everything, itself included (the TEE verifier's revocations too).
    function _handOver(address proposer, address guardian) internal {
        timelock.grantRole(timelock.PROPOSER_ROLE(), proposer);
        escrow.grantRole(escrow.PAUSER_ROLE(), guardian);
        bytes32 admin = bytes32(0);
        staking.grantRole(admin, address(timelock));
        escrow.grantRole(admin, address(timelock));
        tee.grantRole(admin, address(timelock));
        staking.renounceRole(admin, address(this));
        escrow.renounceRole(admin, address(this));
        tee.renounceRole(admin, address(this));
        timelock.renounceRole(admin, address(this));
    }

    /// @notice A version with one file supporting vanilla, TEE (with `MEASUREMENT`) and ZK (the trapdoor key).
    function _versionInput(string memory content) internal view returns (IModelRegistry.VersionInput memory input) {
        input.cardHash = sha256(bytes(content));
        input.cardCid = abi.encodePacked(hex"01551220", sha256(bytes(content)));
        input.files = new IModelRegistry.FileRef[](1);
        input.files[0] = IModelRegistry.FileRef({path: "model.onnx", cid: input.cardCid, sha256: input.cardHash});
        input.modes = new IModelRegistry.ModeBinding[](3);
        input.modes[0] =
            IModelRegistry.ModeBinding({mode: ModesLib.VANILLA, verifier: address(0), bindings: new bytes32[](0)});
        bytes32[] memory measurements = new bytes32[](1);
        measurements[0] = MEASUREMENT;
        input.modes[1] = IModelRegistry.ModeBinding({mode: ModesLib.TEE, verifier: address(0), bindings: measurements});
        bytes32[] memory keys = new bytes32[](1);
        keys[0] = vkHash;
        input.modes[2] = IModelRegistry.ModeBinding({mode: ModesLib.ZK, verifier: groth16, bindings: keys});
    }
}
