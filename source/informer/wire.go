package informer

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// field is one field of a protobuf message as eachField hands it over: a
// varint's value in n, a length-delimited value's bytes in b (a part of
// the message: copy what is kept).
type field struct {
	num protowire.Number
	typ protowire.Type
	n   uint64
	b   []byte
}

// eachField calls f for every field of the protobuf message b, in order,
// and stops at the first error. Fixed-size values are skipped; groups, which
// the Kubernetes API does not use, are an error.
func eachField(b []byte, f func(field) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return wireError(n)
		}
		b = b[n:]
		fd := field{num: num, typ: typ}
		switch typ {
		case protowire.VarintType:
			fd.n, n = protowire.ConsumeVarint(b)
		case protowire.BytesType:
			fd.b, n = protowire.ConsumeBytes(b)
		case protowire.Fixed32Type, protowire.Fixed64Type:
			n = protowire.ConsumeFieldValue(num, typ, b)
		default:
			return fmt.Errorf("field %d: wire type %d is not used by the API", num, typ)
		}
		if n < 0 {
			return wireError(n)
		}
		b = b[n:]
		if typ == protowire.Fixed32Type || typ == protowire.Fixed64Type {
			continue
		}
		if err := f(fd); err != nil {
			return err
		}
	}
	return nil
}

func wireError(n int) error {
	if err := protowire.ParseError(n); err != nil {
		return fmt.Errorf("bad protobuf: %w", err)
	}
	return errors.New("bad protobuf")
}

// string, message, int32, int64 and bool read one field's value, or say it has the
// wrong wire type.
func (f field) string() (string, error) {
	if f.typ != protowire.BytesType {
		return "", f.wrongType()
	}
	return string(f.b), nil
}

func (f field) message() ([]byte, error) {
	if f.typ != protowire.BytesType {
		return nil, f.wrongType()
	}
	return f.b, nil
}

func (f field) int32() (int32, error) {
	if f.typ != protowire.VarintType {
		return 0, f.wrongType()
	}
	return int32(f.n), nil
}

func (f field) int64() (int64, error) {
	if f.typ != protowire.VarintType {
		return 0, f.wrongType()
	}
	return int64(f.n), nil
}

func (f field) bool() (bool, error) {
	if f.typ != protowire.VarintType {
		return false, f.wrongType()
	}
	return f.n != 0, nil
}

func (f field) wrongType() error {
	return fmt.Errorf("field %d: unexpected wire type %d", f.num, f.typ)
}

// mapEntry reads one entry of a protobuf map<string, string>, as parts of b.
func mapEntry(b []byte) (key, value []byte, err error) {
	err = eachField(b, func(f field) error {
		var err error
		switch f.num {
		case 1:
			key, err = f.message()
		case 2:
			value, err = f.message()
		}
		return err
	})
	return key, value, err
}
