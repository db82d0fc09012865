package explain

// topic builds a topic's bundle.
func (e *Explainer) topic(r Request) (Bundle, bool) { return Bundle{}, false }

// broker builds a broker's bundle.
func (e *Explainer) broker(r Request) (Bundle, bool) { return Bundle{}, false }
