package kube

import (
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Kind is a workload kind that holds a pod spec.
type Kind struct {
	Name       string   // Deployment
	APIVersion string   // apps/v1
	SpecPath   []string // path of the pod spec in the object
	aliases    []string
}

// Kinds are the workload kinds assetpack can patch.
var Kinds = []Kind{
	{"Pod", "v1", []string{"spec"}, []string{"pod", "pods", "po"}},
	{"Deployment", "apps/v1", []string{"spec", "template", "spec"}, []string{"deployment", "deployments", "deploy"}},
	{"StatefulSet", "apps/v1", []string{"spec", "template", "spec"}, []string{"statefulset", "statefulsets", "sts"}},
	{"DaemonSet", "apps/v1", []string{"spec", "template", "spec"}, []string{"daemonset", "daemonsets", "ds"}},
	{"ReplicaSet", "apps/v1", []string{"spec", "template", "spec"}, []string{"replicaset", "replicasets", "rs"}},
	{"Job", "batch/v1", []string{"spec", "template", "spec"}, []string{"job", "jobs"}},
	{"CronJob", "batch/v1", []string{"spec", "jobTemplate", "spec", "template", "spec"}, []string{"cronjob", "cronjobs", "cj"}},
}

// KindByName finds a kind by its name (Deployment) or alias (deploy).
func KindByName(s string) (Kind, bool) {
	for _, k := range Kinds {
		if strings.EqualFold(k.Name, s) {
			return k, true
		}
		for _, a := range k.aliases {
			if strings.EqualFold(a, s) {
				return k, true
			}
		}
	}
	return Kind{}, false
}

// Workload names one object: kind, name and (optional) namespace.
type Workload struct {
	Kind      Kind
	Name      string
	Namespace string
}

func (w Workload) String() string { return strings.ToLower(w.Kind.Name) + "/" + w.Name }

// ParseWorkload parses KIND/NAME, such as deployment/web or cj/report.
func ParseWorkload(s string) (Workload, error) {
	kind, name, ok := strings.Cut(s, "/")
	if !ok || name == "" || strings.Contains(name, "/") {
		return Workload{}, fieldError("Workload", s, "must be KIND/NAME, such as deployment/web")
	}
	k, ok := KindByName(kind)
	if !ok {
		var names []string
		for _, k := range Kinds {
			names = append(names, strings.ToLower(k.Name))
		}
		return Workload{}, fieldError("Workload", s, "has an unknown kind %q: use one of %s", kind, strings.Join(names, ", "))
	}
	if !validSubdomain(name) {
		return Workload{}, fieldError("Workload", s, "has an invalid object name %q: use lowercase letters, digits, '-' and '.'", name)
	}
	return Workload{Kind: k, Name: name}, nil
}

// object wraps a pod spec in a typed object of the workload's kind.
func (w Workload) object(spec corev1.PodSpec) (any, error) {
	meta := metav1.ObjectMeta{Name: w.Name, Namespace: w.Namespace}
	tm := metav1.TypeMeta{Kind: w.Kind.Name, APIVersion: w.Kind.APIVersion}
	tmpl := corev1.PodTemplateSpec{Spec: spec}
	switch w.Kind.Name {
	case "Pod":
		return &corev1.Pod{TypeMeta: tm, ObjectMeta: meta, Spec: spec}, nil
	case "Deployment":
		return &appsv1.Deployment{TypeMeta: tm, ObjectMeta: meta, Spec: appsv1.DeploymentSpec{Template: tmpl}}, nil
	case "StatefulSet":
		return &appsv1.StatefulSet{TypeMeta: tm, ObjectMeta: meta, Spec: appsv1.StatefulSetSpec{Template: tmpl}}, nil
	case "DaemonSet":
		return &appsv1.DaemonSet{TypeMeta: tm, ObjectMeta: meta, Spec: appsv1.DaemonSetSpec{Template: tmpl}}, nil
	case "ReplicaSet":
		return &appsv1.ReplicaSet{TypeMeta: tm, ObjectMeta: meta, Spec: appsv1.ReplicaSetSpec{Template: tmpl}}, nil
	case "Job":
		return &batchv1.Job{TypeMeta: tm, ObjectMeta: meta, Spec: batchv1.JobSpec{Template: tmpl}}, nil
	case "CronJob":
		return &batchv1.CronJob{TypeMeta: tm, ObjectMeta: meta, Spec: batchv1.CronJobSpec{JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: tmpl}}}}, nil
	}
	return nil, fmt.Errorf("kube: kind %q has no type", w.Kind.Name)
}

// NewObject returns an empty typed object for a kind, for strict decoding.
func NewObject(kind string) (any, bool) {
	k, ok := KindByName(kind)
	if !ok {
		return nil, false
	}
	switch k.Name {
	case "Pod":
		return &corev1.Pod{}, true
	case "Deployment":
		return &appsv1.Deployment{}, true
	case "StatefulSet":
		return &appsv1.StatefulSet{}, true
	case "DaemonSet":
		return &appsv1.DaemonSet{}, true
	case "ReplicaSet":
		return &appsv1.ReplicaSet{}, true
	case "Job":
		return &batchv1.Job{}, true
	case "CronJob":
		return &batchv1.CronJob{}, true
	}
	return nil, false
}
