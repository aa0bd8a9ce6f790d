// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {IJobEscrow} from "../interfaces/IJobEscrow.sol";
import {JobId} from "../types/Ids.sol";

/// @title SelfRequester
/// @notice Test-only base for consumers that request their own jobs (a callback must be its requester): anyone
/// may have it request a job paid from tokens sent to it, with itself as the callback.
abstract contract SelfRequester {
    /// @notice The escrow requests go to.
    IJobEscrow public immutable requestEscrow;

    constructor(IJobEscrow escrow_) {
        requestEscrow = escrow_;
    }

    /// @notice Requests `params` with this contract as requester and callback.
    function request(IJobEscrow.RequestParams memory params) external returns (JobId) {
        params.callback = address(this);
        IERC20(requestEscrow.token()).approve(address(requestEscrow), params.maxTotal);
        return requestEscrow.request(params);
    }
}
