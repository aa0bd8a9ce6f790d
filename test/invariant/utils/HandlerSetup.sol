// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Test, actor} from "./Test.sol";
import {SystemSetup} from "./SystemSetup.sol";
import {ProtocolHandler} from "../handlers/ProtocolHandler.sol";
import {GovernanceHandler} from "../handlers/GovernanceHandler.sol";
import {EnclaveHandler} from "../handlers/EnclaveHandler.sol";

/// @notice The system with its handlers, as every invariant and handler-reach suite starts: governance handed to
/// the governance handler (the enclave handler revokes as the timelock, the verifier's admin), a published model,
/// and one enclave key registered by each TEE operator (nodes 0 and 1).
abstract contract HandlerSetup is Test, SystemSetup {
    uint256 internal constant ENCLAVE_KEY = 0xE5C1A7E;

    ProtocolHandler internal handler;
    GovernanceHandler internal governance;
    EnclaveHandler internal enclaves;

    function _deployWithHandlers() internal {
        _deploySystem();
        governance = new GovernanceHandler(timelock, escrow, staking);
        address[] memory operators = new address[](2);
        (operators[0], operators[1]) = (actor("node", 0), actor("node", 1));
        enclaves = new EnclaveHandler(tee, MEASUREMENT, operators, ENCLAVE_KEY, address(timelock));
        _handOver(address(governance), address(governance));
        handler = new ProtocolHandler(token, escrow, staking, registry, tee, enclaves);
        handler.bootstrap(_versionInput("model-weights"));
        enclaves.attest(0, 0);
        enclaves.attest(1, 1);
    }
}
