package config

import (
	"fmt"
	"reflect"
	"strings"
)

// Variable describes one environment variable for --help.
type Variable struct {
	Name, Default, Help string
	// Group is the concern it belongs to (the `group` tag of its part of
	// Config), e.g. "Probes".
	Group string
	// Secret values are never printed.
	Secret bool
}

// Variables lists every variable of lbdns with its default, in declaration
// order.
func Variables() []Variable {
	var vars []Variable
	t := reflect.TypeOf(Config{})
	for i := range t.NumField() {
		group := t.Field(i)
		for _, f := range fields(group.Type) {
			vars = append(vars, Variable{
				Name:    Prefix + f.Tag.Get("env"),
				Default: f.Tag.Get("envDefault"),
				Help:    f.Tag.Get("help"),
				Group:   group.Tag.Get("group"),
				Secret:  f.Tag.Get("secret") == "true",
			})
		}
	}
	return vars
}

// fields are the settings of struct type t, in declaration order: its
// fields with an env tag, and those of the structs it holds.
func fields(t reflect.Type) []reflect.StructField {
	var out []reflect.StructField
	for i := range t.NumField() {
		f := t.Field(i)
		switch {
		case f.Tag.Get("env") != "":
			out = append(out, f)
		case f.Type.Kind() == reflect.Struct:
			out = append(out, fields(f.Type)...)
		}
	}
	return out
}

// Setting is one variable's effective value.
type Setting struct{ Name, Value string }

// Effective lists every variable with the value in effect, secrets masked.
func (c Config) Effective() []Setting {
	var out []Setting
	effective(reflect.ValueOf(c), &out)
	return out
}

func effective(v reflect.Value, out *[]Setting) {
	t := v.Type()
	for i := range t.NumField() {
		f, fv := t.Field(i), v.Field(i)
		if f.Tag.Get("env") == "" {
			if f.Type.Kind() == reflect.Struct {
				effective(fv, out)
			}
			continue
		}
		value := fmt.Sprint(fv.Interface())
		if s, ok := fv.Interface().([]string); ok {
			value = strings.Join(s, ",")
		}
		if f.Tag.Get("secret") == "true" && value != "" {
			value = "(set, not shown)"
		}
		*out = append(*out, Setting{Name: Prefix + f.Tag.Get("env"), Value: value})
	}
}
