// Package envtest holds test helpers shared by the env providers' tests:
// leak checks that prove every process a provider started is gone when
// the tests end.
//
//	func TestMain(m *testing.M) { envtest.CheckNoLeaks(m) }
package envtest
