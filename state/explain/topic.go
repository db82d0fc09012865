package explain

import "errors"

// ErrNotBuilt is returned for topic and broker subjects: their bundles are
// not assembled yet.
var ErrNotBuilt = errors.New("explain: topic and broker bundles are not built yet; explain a group")

// topic builds a topic's bundle.
func (e *Explainer) topic(Request) (Bundle, bool, error) { return Bundle{}, false, ErrNotBuilt }

// broker builds a broker's bundle.
func (e *Explainer) broker(Request) (Bundle, bool, error) { return Bundle{}, false, ErrNotBuilt }
