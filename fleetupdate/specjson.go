package fleetupdate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// Reading Azure's JSON strictly. Every object of the spec surface refuses
// keys it does not know (encoding/json would drop them, and a dropped gate or
// budget is an outage), matches keys exactly (encoding/json ignores case),
// and reports a problem once, naming the field by its path from the value
// being decoded: "strategy.stages[0].groups[1]: unknown field "colour"".

// fieldError is a problem with one field of the input. Its path grows as the
// error climbs out of nested objects; it wraps ErrInvalidSpec.
type fieldError struct {
	path string // "strategy.stages[0].afterStageWaitInSeconds"; empty at the root
	msg  string
}

// Error names the field by path, then says what is wrong with it.
func (e *fieldError) Error() string {
	if e.path == "" {
		return ErrInvalidSpec.Error() + ": " + e.msg
	}
	return ErrInvalidSpec.Error() + ": " + e.path + ": " + e.msg
}

// Unwrap makes every field error an ErrInvalidSpec.
func (e *fieldError) Unwrap() error { return ErrInvalidSpec }

// under returns err with its path prefixed by step ("strategy", "[2]").
func under(step string, err error) error {
	var fe *fieldError
	if !errors.As(err, &fe) {
		fe = &fieldError{msg: err.Error()}
	}
	switch {
	case fe.path == "":
		return &fieldError{path: step, msg: fe.msg}
	case strings.HasPrefix(fe.path, "["):
		return &fieldError{path: step + fe.path, msg: fe.msg}
	}
	return &fieldError{path: step + "." + fe.path, msg: fe.msg}
}

// fieldReader decodes one field's JSON value.
type fieldReader func(json.RawMessage) error

// readObject decodes a JSON object whose keys must all be in fields; each
// present key's value goes to its reader. JSON null leaves everything as is.
func readObject(b []byte, fields map[string]fieldReader) error {
	if string(b) == "null" {
		return nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return &fieldError{msg: "want a JSON object"}
	}
	if k, ok := repeatedKey(b); ok {
		return &fieldError{msg: fmt.Sprintf("key %q given twice", k)}
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if _, ok := fields[k]; !ok {
			return &fieldError{msg: fmt.Sprintf("unknown field %q", k)}
		}
	}
	for _, k := range keys {
		if err := fields[k](raw[k]); err != nil {
			return under(k, err)
		}
	}
	return nil
}

// repeatedKey returns a key the JSON object b gives twice (encoding/json
// would keep the last; another reader may keep the first).
func repeatedKey(b []byte) (string, bool) {
	d := json.NewDecoder(bytes.NewReader(b))
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return "", false
	}
	seen := map[string]bool{}
	for d.More() {
		t, err := d.Token()
		if err != nil {
			return "", false
		}
		k, _ := t.(string)
		if seen[k] {
			return k, true
		}
		seen[k] = true
		var skip json.RawMessage
		if d.Decode(&skip) != nil {
			return "", false
		}
	}
	return "", false
}

// into reads a value with encoding/json (our types read themselves strictly),
// turning type errors into messages a user can act on.
func into(v any) fieldReader {
	return func(b json.RawMessage) error {
		err := json.Unmarshal(b, v)
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return &fieldError{msg: fmt.Sprintf("want %s, not JSON %s", kindName(te.Type), te.Value)}
		}
		return err
	}
}

// listOf reads a JSON array element by element, so an error names its index.
func listOf[T any, P interface {
	*T
	json.Unmarshaler
}](out *[]T) fieldReader {
	return func(b json.RawMessage) error {
		var items []json.RawMessage
		if err := json.Unmarshal(b, &items); err != nil {
			return &fieldError{msg: "want a JSON array"}
		}
		if items == nil {
			*out = nil
			return nil
		}
		res := make([]T, len(items))
		for i, it := range items {
			if err := P(&res[i]).UnmarshalJSON(it); err != nil {
				return under(fmt.Sprintf("[%d]", i), err)
			}
		}
		*out = res
		return nil
	}
}

// ignored accepts a read-only field Azure returns and a run does not use.
func ignored(json.RawMessage) error { return nil }

func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number in range"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "a JSON array"
	}
	return "a JSON object"
}

// UnmarshalJSON reads Azure's UpdateRun properties strictly. Read-only
// fields Azure returns (status, provisioningState, autoUpgradeProfileId) are
// accepted and ignored, so a GET response's properties can be pasted as is.
func (s *Spec) UnmarshalJSON(b []byte) error {
	var out Spec
	err := readObject(b, map[string]fieldReader{
		"updateStrategyId":     into(&out.UpdateStrategyID),
		"strategy":             into(&out.Strategy),
		"managedClusterUpdate": into(&out.ManagedClusterUpdate),
		"status":               ignored,
		"provisioningState":    ignored,
		"autoUpgradeProfileId": ignored,
	})
	if err != nil {
		return err
	}
	*s = out
	return nil
}

// UnmarshalJSON reads Azure's UpdateRunStrategy strictly.
func (s *Strategy) UnmarshalJSON(b []byte) error {
	var out Strategy
	if err := readObject(b, map[string]fieldReader{"stages": listOf(&out.Stages)}); err != nil {
		return err
	}
	*s = out
	return nil
}

// UnmarshalJSON reads Azure's UpdateStage strictly.
func (s *Stage) UnmarshalJSON(b []byte) error {
	var out Stage
	err := readObject(b, map[string]fieldReader{
		"name":                    into(&out.Name),
		"groups":                  listOf(&out.Groups),
		"afterStageWaitInSeconds": into(&out.AfterStageWaitInSeconds),
		"maxConcurrency":          into(&out.MaxConcurrency),
		"maxAllowedFailures":      into(&out.MaxAllowedFailures),
		"memberSelector":          into(&out.MemberSelector),
		"beforeGates":             listOf(&out.BeforeGates),
		"afterGates":              listOf(&out.AfterGates),
	})
	if err != nil {
		return err
	}
	*s = out
	return nil
}

// UnmarshalJSON reads Azure's UpdateGroup strictly.
func (g *Group) UnmarshalJSON(b []byte) error {
	var out Group
	err := readObject(b, map[string]fieldReader{
		"name":               into(&out.Name),
		"maxConcurrency":     into(&out.MaxConcurrency),
		"maxAllowedFailures": into(&out.MaxAllowedFailures),
		"memberSelector":     into(&out.MemberSelector),
		"beforeGates":        listOf(&out.BeforeGates),
		"afterGates":         listOf(&out.AfterGates),
	})
	if err != nil {
		return err
	}
	*g = out
	return nil
}

// UnmarshalJSON reads Azure's MemberSelector strictly.
func (m *MemberSelector) UnmarshalJSON(b []byte) error {
	var out MemberSelector
	if err := readObject(b, map[string]fieldReader{"byLabel": into(&out.ByLabel)}); err != nil {
		return err
	}
	*m = out
	return nil
}

// UnmarshalJSON reads Azure's GateConfiguration strictly.
func (g *GateConfiguration) UnmarshalJSON(b []byte) error {
	var out GateConfiguration
	err := readObject(b, map[string]fieldReader{
		"displayName":                 into(&out.DisplayName),
		"type":                        into(&out.Type),
		"scheduledStartConfiguration": into(&out.ScheduledStartConfiguration),
	})
	if err != nil {
		return err
	}
	*g = out
	return nil
}

// UnmarshalJSON reads Azure's ScheduledStartConfiguration strictly.
func (c *ScheduledStartConfiguration) UnmarshalJSON(b []byte) error {
	var out ScheduledStartConfiguration
	err := readObject(b, map[string]fieldReader{
		"startDay":  into(&out.StartDay),
		"startTime": into(&out.StartTime),
		"utcOffset": into(&out.UTCOffset),
	})
	if err != nil {
		return err
	}
	*c = out
	return nil
}

// UnmarshalJSON reads Azure's ManagedClusterUpdate strictly.
func (m *ManagedClusterUpdate) UnmarshalJSON(b []byte) error {
	var out ManagedClusterUpdate
	err := readObject(b, map[string]fieldReader{
		"upgrade":            into(&out.Upgrade),
		"nodeImageSelection": into(&out.NodeImageSelection),
	})
	if err != nil {
		return err
	}
	*m = out
	return nil
}

// UnmarshalJSON reads Azure's ManagedClusterUpgradeSpec strictly.
func (u *UpgradeSpec) UnmarshalJSON(b []byte) error {
	var out UpgradeSpec
	err := readObject(b, map[string]fieldReader{
		"type":              into(&out.Type),
		"kubernetesVersion": into(&out.KubernetesVersion),
	})
	if err != nil {
		return err
	}
	*u = out
	return nil
}

// UnmarshalJSON reads Azure's NodeImageSelection strictly.
func (n *NodeImageSelection) UnmarshalJSON(b []byte) error {
	var out NodeImageSelection
	err := readObject(b, map[string]fieldReader{
		"type":                    into(&out.Type),
		"customNodeImageVersions": listOf(&out.CustomNodeImageVersions),
	})
	if err != nil {
		return err
	}
	*n = out
	return nil
}

// UnmarshalJSON reads Azure's NodeImageVersion strictly.
func (v *NodeImageVersion) UnmarshalJSON(b []byte) error {
	var out NodeImageVersion
	if err := readObject(b, map[string]fieldReader{"version": into(&out.Version)}); err != nil {
		return err
	}
	*v = out
	return nil
}
