package config

import (
	"fmt"
	"reflect"
	"strings"
)

// Variable describes one environment variable for --help.
type Variable struct {
	Name, Default, Help string
	// Secret values are never printed.
	Secret bool
}

// Variables lists every variable with its default, in declaration order.
func Variables() []Variable {
	t := reflect.TypeOf(Config{})
	vars := make([]Variable, 0, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		vars = append(vars, Variable{
			Name:    Prefix + f.Tag.Get("env"),
			Default: f.Tag.Get("envDefault"),
			Help:    f.Tag.Get("help"),
			Secret:  f.Tag.Get("secret") == "true",
		})
	}
	return vars
}

// Setting is one variable's effective value.
type Setting struct{ Name, Value string }

// Effective lists every variable with the value in effect, secrets masked.
func (c Config) Effective() []Setting {
	v := reflect.ValueOf(c)
	t := v.Type()
	out := make([]Setting, 0, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		value := fmt.Sprint(v.Field(i).Interface())
		if s, ok := v.Field(i).Interface().([]string); ok {
			value = strings.Join(s, ",")
		}
		if f.Tag.Get("secret") == "true" && value != "" {
			value = "(set, not shown)"
		}
		out = append(out, Setting{Name: Prefix + f.Tag.Get("env"), Value: value})
	}
	return out
}
