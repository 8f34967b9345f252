package cli

func runExport(e *env, args []string) int {
	return e.fail("export", errNotYet)
}

func runVerify(e *env, args []string) int {
	return e.fail("verify", errNotYet)
}
