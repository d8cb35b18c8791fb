//go:build race

package admin_test

// raceDetector: the race detector allocates besides the code it watches
// (about an eighth more in TestAPIUploadMemory).
const raceDetector = true
