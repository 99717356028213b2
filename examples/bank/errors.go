package bank

import "errors"

// Why a debit or a credit fails; events carry the message as their Reason.
var (
	ErrInsufficientFunds = errors.New("bank: insufficient funds")
	ErrFrozen            = errors.New("bank: account frozen")
	ErrNoAccount         = errors.New("bank: no such account")
)
