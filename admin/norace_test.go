//go:build !race

package admin_test

const raceDetector = false
