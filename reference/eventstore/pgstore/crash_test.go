package pgstore_test

const childEnv = "EDKIT_PGSTORE_CRASH_CHILD"

func crashChild() int { return 0 }
