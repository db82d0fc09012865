package state

import (
	"maps"
	"slices"

	"github.com/kwitness/kwitness/detect"
)

// EachTopic implements detect.TopicView: every consumed topic once, with the
// log end offset window of each of its watched partitions (the union over
// the groups that consume it) and, when DescribeGroups reported one, the
// assignment of one consuming group (the first by name). Windows are valid
// until fn returns.
func (v *View) EachTopic(fn func(t *detect.TopicInput)) {
	parts := map[string]map[int32]uint32{} // topic → partition → end series id
	owners := map[string]string{}          // topic → a group whose assignment is known
	var topics []string
	for _, e := range v.snap.Topology.GroupTopics {
		if _, ok := owners[e.Topic]; !ok && v.snap.Groups[e.Group].Owners[e.Topic] != nil {
			owners[e.Topic] = e.Group
		}
		m := parts[e.Topic]
		if m == nil {
			m = map[int32]uint32{}
			parts[e.Topic] = m
			topics = append(topics, e.Topic)
		}
		for _, p := range e.Parts {
			m[p.Partition] = p.Series[detect.ColEnd]
		}
	}
	slices.Sort(topics)
	in := &detect.TopicInput{Cluster: v.w.cluster}
	for _, topic := range topics {
		in.Topic, in.Partitions = topic, in.Partitions[:0]
		in.OwnerGroup, in.Owners = owners[topic], nil
		if g, ok := owners[topic]; ok {
			in.Owners = v.snap.Groups[g].Owners[topic]
		}
		v.arena = v.arena[:0]
		ids := parts[topic]
		for _, p := range slices.Sorted(maps.Keys(ids)) {
			in.Partitions = append(in.Partitions, v.endWindow(p, ids[p]))
		}
		fn(in)
	}
}

// endWindow reads one end offset series' merged window into fresh slices.
func (v *View) endWindow(p int32, id uint32) detect.EndWindow {
	var hs, rs int
	v.hbuf[1], hs = v.w.history.ReadSeries(v.snap.History, id, v.hbuf[1][:0])
	v.rbuf[1], rs = v.w.recent.ReadSeries(v.snap.Recent, id, v.rbuf[1][:0])
	hLo, hHi, rLo := v.mergeRange(hs, rs)
	w := detect.EndWindow{Partition: p, Series: id}
	w.Times = append(append(w.Times, v.histT[hLo:hHi]...), v.recT[rLo:]...)
	w.End = append(append(w.End, v.hbuf[1][hLo:hHi]...), v.rbuf[1][rLo:]...)
	return w
}
