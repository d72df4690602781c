package model

import (
	"fmt"
	"strings"

	"github.com/strata-ml/strata/internal/model/unpickle"
)

// pipeline is a Pipeline of transformers ending in a predictor.
type pipeline struct {
	meta  Info
	steps []transformer
	final Model
	n     int
}

func buildPipeline(b *builder, o *unpickle.Object, a attrs) (estimator, error) {
	p := &pipeline{meta: newInfo(o, a)}
	v, err := a.get("steps")
	if err != nil {
		return nil, err
	}
	steps, ok := unpickle.Seq(v)
	if !ok || len(steps) == 0 {
		return nil, fmt.Errorf("steps: %s is not a list of steps", unpickle.Describe(v))
	}
	var names []string
	for i, s := range steps {
		pair, ok := unpickle.Seq(s)
		if !ok || len(pair) != 2 {
			return nil, fmt.Errorf("steps[%d]: %s is not a (name, estimator) pair", i, unpickle.Describe(s))
		}
		if pair[1] == nil || pair[1] == "passthrough" {
			if i == len(steps)-1 {
				return nil, fmt.Errorf("steps[%d]: the last step passes through; nothing predicts", i)
			}
			continue
		}
		est, err := b.build(pair[1])
		if err != nil {
			return nil, fmt.Errorf("steps[%d]: %w", i, err)
		}
		names = append(names, est.info().Estimator)
		if i == len(steps)-1 {
			f, ok := est.(Model)
			if !ok {
				return nil, fmt.Errorf("steps[%d]: %s does not predict", i, est.info().Estimator)
			}
			p.final = f
			continue
		}
		t, ok := est.(transformer)
		if !ok {
			return nil, fmt.Errorf("steps[%d]: %s is not a transformer strata supports", i, est.info().Estimator)
		}
		p.steps = append(p.steps, t)
	}
	// Each step must take what the one before it gives.
	p.n = p.final.NumFeatures()
	for i := len(p.steps) - 1; i >= 0; i-- {
		if p.steps[i].numFeatures() != p.n {
			return nil, fmt.Errorf("steps: %s gives %d features, next step expects %d", p.steps[i].info().Estimator, p.steps[i].numFeatures(), p.n)
		}
	}
	p.meta.Estimator = "Pipeline(" + strings.Join(names, ", ") + ")"
	p.meta.AllowsNaN = p.final.Info().AllowsNaN
	if p.meta.SklearnVersion == "" {
		p.meta.SklearnVersion = p.final.Info().SklearnVersion
	}
	if c, ok := p.final.(Classifier); ok {
		return &pipelineClassifier{pipeline: p, final: c}, nil
	}
	return p, nil
}

func (p *pipeline) info() Info { return p.meta }

// Info implements Model.
func (p *pipeline) Info() Info { return p.meta }

// NumFeatures implements Model.
func (p *pipeline) NumFeatures() int { return p.n }

// run checks the feature count and applies the transformers in order.
func (p *pipeline) run(rows [][]float64) ([][]float64, error) {
	if len(rows) == 0 {
		return nil, errNoRows
	}
	for i, r := range rows {
		if len(r) != p.n {
			return nil, fmt.Errorf("row %d has %d features, %s expects %d", i, len(r), p.meta.Estimator, p.n)
		}
	}
	for _, t := range p.steps {
		var err error
		if rows, err = t.transform(rows); err != nil {
			return nil, fmt.Errorf("%s: %w", t.info().Estimator, err)
		}
	}
	return rows, nil
}

// Predict implements Model.
func (p *pipeline) Predict(rows [][]float64) ([]any, error) {
	rows, err := p.run(rows)
	if err != nil {
		return nil, err
	}
	return p.final.Predict(rows)
}

// pipelineClassifier is a pipeline whose last step is a classifier.
type pipelineClassifier struct {
	*pipeline
	final Classifier
}

// Classes implements Classifier.
func (p *pipelineClassifier) Classes() []any { return p.final.Classes() }

// PredictProba implements Classifier.
func (p *pipelineClassifier) PredictProba(rows [][]float64) ([][]float64, error) {
	rows, err := p.run(rows)
	if err != nil {
		return nil, err
	}
	return p.final.PredictProba(rows)
}
