package diffimg

import "github.com/org/immutos-action/diffimg/fsys/detect"

// Every format package is reached through fsys/detect.
func init() { OpenFS = detect.Open }
