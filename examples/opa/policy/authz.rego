package httpapi.authz

import rego.v1

default allow := false

allow if {
	input.method == "GET"
	input.path[0] == "public"
}

allow if {
	input.user in data.httpapi.admins
}
