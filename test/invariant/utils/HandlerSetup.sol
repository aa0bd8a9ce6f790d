// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Test} from "./Test.sol";
import {SystemSetup} from "./SystemSetup.sol";
import {ProtocolHandler} from "../handlers/ProtocolHandler.sol";
import {GovernanceHandler} from "../handlers/GovernanceHandler.sol";

/// @notice The system with its handlers, as every invariant and handler-reach suite starts: governance handed to
/// the governance handler, a published model, and the handler's enclave registered.
abstract contract HandlerSetup is Test, SystemSetup {
    uint256 internal constant ENCLAVE_KEY = 0xE5C1A7E;

    ProtocolHandler internal handler;
    GovernanceHandler internal governance;

    function _deployWithHandlers() internal {
        _deploySystem();
        governance = new GovernanceHandler(timelock, escrow, staking);
        _handOver(address(governance), address(governance));
        handler = new ProtocolHandler(token, escrow, staking, registry, tee, ENCLAVE_KEY);
        handler.bootstrap(_versionInput("model-weights"));
        tee.registerEnclave(vm.addr(ENCLAVE_KEY), handler.enclaveOperator(), MEASUREMENT, uint64(block.timestamp + 30 days));
    }
}
